"""biocap's one fault-injecting bus, on its own: every kind around a fault-free emulated device,
with no protocol knowledge (the conformance kit's use) and with the simulator's."""
import errno
import time

import pytest
import usb.core
import usb.util

from biocap.plugins.conformance import FaultInjector
from biocap.plugins.faultbus import FaultBus, FaultPlan, FaultSpecError
from biocap.plugins.usb import UsbBus
from biocap_vendor_sim import protocol as p
from biocap_vendor_sim.backend import EmulatedBus, SimBackend, SimFrames
from biocap_vendor_sim.sources import make_source


def _device(protocol=None):
    inner = EmulatedBus(seed=0, modalities=("fingerprint",),
                        sources={"fingerprint": make_source("fingerprint-synthetic")})
    fault_bus = FaultBus(inner, protocol=protocol)
    dev = next(UsbBus("faulty", fault_bus).find_all())
    usb.util.claim_interface(dev, 0)
    return fault_bus, dev


def _send(dev, op, seq, payload=b""):
    dev.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, op, seq, payload), 200)


def _reply(dev, size=1 << 17):
    return bytes(dev.read(p.EP_IN, size, 200))


def test_timeout_loses_the_transfer_and_the_reply_stays_queued():
    bus, dev = _device()
    _send(dev, p.Op.GET_INFO, 1)
    bus.set_faults(None, "timeout@1")
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        _reply(dev)
    assert 0.15 < time.monotonic() - start < 1.0
    assert p.decode_frame(_reply(dev)).seq == 1   # what the device sent is still there


def test_stall_and_busy_without_a_protocol_fail_the_transfer():
    bus, dev = _device()
    bus.set_faults(None, "stall@1,busy@2")
    with pytest.raises(usb.core.USBError) as stall:
        _send(dev, p.Op.GET_INFO, 1)
    with pytest.raises(usb.core.USBError) as busy:
        _send(dev, p.Op.GET_INFO, 2)
    assert (stall.value.errno, busy.value.errno) == (errno.EPIPE, errno.EBUSY)
    _send(dev, p.Op.GET_INFO, 3)                  # cleared: the next command works
    assert p.decode_frame(_reply(dev)).seq == 3


def test_busy_with_the_simulators_protocol_is_a_busy_reply():
    bus, dev = _device(SimFrames())
    bus.set_faults(None, "busy@1")
    _send(dev, p.Op.GET_INFO, 1)
    frame = p.decode_frame(_reply(dev))
    assert (frame.seq, frame.status) == (1, p.Status.BUSY)


@pytest.mark.parametrize("kind", ["corrupt", "short"])
def test_frame_faults_hit_the_next_frame_only(kind):
    bus, dev = _device()
    _send(dev, p.Op.GET_INFO, 1)
    clean = _reply(dev)
    bus.set_faults(None, f"{kind}@1")
    _send(dev, p.Op.GET_INFO, 2)
    hit = _reply(dev)
    with pytest.raises(p.FrameError):
        p.decode_frame(hit)
    assert len(hit) == (len(clean) if kind == "corrupt" else len(clean) // 2)
    _send(dev, p.Op.GET_INFO, 3)
    assert p.decode_frame(_reply(dev)).seq == 3


def test_a_slow_reply_times_out_then_arrives_stale():
    bus, dev = _device()
    bus.slow_delay_s = 0.3
    bus.set_faults(None, "slow@1")
    _send(dev, p.Op.GET_INFO, 1)
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(p.EP_IN, 1 << 17, 100)
    time.sleep(0.3)
    assert p.decode_frame(_reply(dev)).seq == 1


def test_disconnect_hides_the_device_until_replugged():
    bus, dev = _device()
    bus.set_faults(None, "unplug@1")
    with pytest.raises(usb.core.USBError) as gone:
        _send(dev, p.Op.GET_INFO, 1)
    assert gone.value.errno == errno.ENODEV and list(UsbBus("b", bus).find_all()) == []
    usb.util.dispose_resources(dev)
    bus.replug()
    assert len(list(UsbBus("b", bus).find_all())) == 1


def test_one_fault_system_for_the_simulator_and_the_kit():
    assert issubclass(SimBackend, FaultBus) and issubclass(FaultInjector, FaultBus)


@pytest.mark.parametrize("spec", ["nonsense@1", "timeout@0", "timeout@1*0", "timeout@x"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(FaultSpecError):
        FaultPlan.parse(spec)

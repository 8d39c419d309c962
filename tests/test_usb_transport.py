"""USB layer over pyusb: error mapping, claiming and releasing on the emulated bus."""
import errno

import pytest
import usb.core

from biocap.errors import (AccessDenied, DeviceBusy, DeviceDisconnected, ProtocolError,
                           RetryableError, TransferTimeout)
from biocap.plugins.usb import UsbTransport, map_usb_error, read_string
from biocap_vendor_sim import make_bus
from biocap_vendor_sim import protocol as p
from biocap_vendor_sim.sources import make_source


@pytest.mark.parametrize("exc, expected", [
    (usb.core.USBTimeoutError("t", -7, errno.ETIMEDOUT), TransferTimeout),
    (usb.core.USBError("gone", -4, errno.ENODEV), DeviceDisconnected),
    (usb.core.USBError("busy", -6, errno.EBUSY), DeviceBusy),
    (usb.core.USBError("denied", -3, errno.EACCES), AccessDenied),
    (usb.core.USBError("stall", -9, errno.EPIPE), ProtocolError),
    (usb.core.USBError("odd", -99, None), ProtocolError),
])
def test_pyusb_errors_map_to_biocap_errors(exc, expected):
    mapped = map_usb_error(exc, "doing it")
    assert type(mapped) is expected and "doing it" in str(mapped)
    assert isinstance(mapped, RetryableError) == (expected is TransferTimeout)


@pytest.fixture
def fingerprint_device():
    bus = make_bus(faults={}, sources={"fingerprint": make_source("fingerprint-synthetic")},
                   modalities=("fingerprint",))
    (dev,) = list(bus.find_all())
    return bus.backend, dev


def test_transport_claims_and_always_releases(fingerprint_device):
    backend, dev = fingerprint_device
    assert read_string(dev, dev.iProduct).startswith("FS-500")
    t = UsbTransport(dev)
    t.open()
    assert backend.claimed_interfaces() == {"fingerprint": [0]}
    t.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, p.Op.GET_INFO, 1), 500)
    assert p.decode_frame(t.read(p.EP_IN, 4096, 500)).status == 0
    with pytest.raises(TransferTimeout):
        t.read(p.EP_IN, 4096, 20)  # nothing was asked: the device has nothing to say
    t.close()
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0


def test_overflowing_reply_and_stalled_endpoint_are_protocol_errors(fingerprint_device):
    backend, dev = fingerprint_device
    with UsbTransport(dev) as t:
        t.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, p.Op.GET_INFO, 1), 500)
        with pytest.raises(ProtocolError):
            t.read(p.EP_IN, 8, 500)
        with pytest.raises(ProtocolError, match="control request"):
            t.control(0xC0, 0x55, 0, 0, 4)
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0


def test_unplug_during_transfer_then_reopen(fingerprint_device):
    backend, dev = fingerprint_device
    backend.set_faults("fingerprint", "unplug@1")
    t = UsbTransport(dev)
    t.open()
    with pytest.raises(DeviceDisconnected):
        t.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, p.Op.GET_INFO, 1), 500)
    t.close()  # releasing a dead device must not raise
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0
    (again,) = list(usb.core.find(find_all=True, backend=backend))
    with UsbTransport(again) as t2:
        t2.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, p.Op.GET_INFO, 2), 500)
        assert p.decode_frame(t2.read(p.EP_IN, 4096, 500)).seq == 2


def test_second_claim_is_busy_and_cleans_up(fingerprint_device):
    backend, dev = fingerprint_device
    other = list(usb.core.find(find_all=True, backend=backend))[0]
    with UsbTransport(dev):
        with pytest.raises(DeviceBusy):
            UsbTransport(other).open()
        assert backend.open_handle_count() == 1
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0

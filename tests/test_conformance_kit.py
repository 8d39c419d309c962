"""The driver conformance kit on every driver in the repository, and on broken drivers."""
from __future__ import annotations

import time

import pytest
import usb.core

from biocap.errors import ProtocolError, TransferTimeout
from biocap.plugins.conformance import (ConformanceFailure, FaultInjector, assert_conformant,
                                        check_driver)
from biocap.plugins.manager import PluginManager
from biocap.plugins.recording import open_recording
from biocap.plugins.usb import UsbBus

from biocap_aes3500 import Aes3500Driver  # noqa: E402
from biocap_nb1010 import Nb1010Driver, protocol as nbp  # noqa: E402


@pytest.fixture
def recorded(shared_data):
    return lambda name: (lambda: open_recording(shared_data / "usb" / name))


@pytest.mark.parametrize("driver, recording", [(Nb1010Driver, "nb1010"),
                                               (Aes3500Driver, "aes3500")])
def test_real_sensor_drivers_conform_on_their_recordings(recorded, driver, recording):
    report = assert_conformant(driver, recorded(recording))
    assert [r.name for r in report.results] == ["describe", "capture", "close", "timeout",
                                                "unplug", "deadline"]


def test_a_recorded_bus_instance_is_restarted_between_checks(shared_data):
    assert check_driver(Nb1010Driver, open_recording(shared_data / "usb" / "nb1010")).passed


# --- the simulator's drivers, found through the hooks like any plugin ---------------------------
def _sim_plugin():
    pm = PluginManager()
    drivers = [d for d in pm.collect("biocap_drivers")
               if d.__module__.startswith("biocap_vendor_sim")]
    buses = [b for b in pm.collect("biocap_usb_buses")
             if type(b.backend).__module__.startswith("biocap_vendor_sim")]
    return drivers, buses


def test_simulator_registers_drivers_and_a_bus():
    drivers, buses = _sim_plugin()
    assert drivers and len(buses) == 1


def _sim_driver_names():
    return [d.name for d in _sim_plugin()[0]] or ["absent"]


@pytest.mark.parametrize("name", _sim_driver_names())
def test_simulator_drivers_conform(name):
    drivers, buses = _sim_plugin()
    driver = next((d for d in drivers if d.name == name), None)
    assert driver is not None, "the simulator plugin registered no driver"
    assert_conformant(driver, buses[0])


# --- deliberately broken drivers must be caught -------------------------------------------------
class LeakyDriver(Nb1010Driver):
    """Forgets to release its interface on close."""

    name = "leaky-nb1010"

    def close(self):
        self.shutdown()


class DeadlineIgnoringDriver(Nb1010Driver):
    """Polls for a finger forever with its own fixed timeout, whatever the request's deadline."""

    name = "stubborn-nb1010"

    def frames(self, request, position, deadline):
        while True:
            try:
                self.transport.write(nbp.EP_OUT, nbp.detect_command(), 500)
                reply = self.transport.read(nbp.EP_IN, 16, 500)
            except TransferTimeout:
                continue
            if nbp.finger_present(reply):
                yield from Nb1010Driver.frames(self, request, position, time.monotonic() + 60)


class ForeverTimeoutDriver(Nb1010Driver):
    """Issues its transfers with timeout 0, which pyusb reads as 'wait forever'."""

    name = "forever-nb1010"

    def _exchange(self, frame, deadline, reply_size):
        self.transport.write(nbp.EP_OUT, frame, 0)
        return self.transport.read(nbp.EP_IN, reply_size, 0)


class SwallowsUnplugDriver(Nb1010Driver):
    """Turns every failure into a protocol error, so the app cannot tell an unplug."""

    name = "swallow-nb1010"

    def frames(self, request, position, deadline):
        try:
            yield from super().frames(request, position, deadline)
        except Exception as exc:
            raise ProtocolError(f"something went wrong: {exc}") from None


class WrongResolutionDriver(Nb1010Driver):
    name = "wrong-ppi-nb1010"

    def frames(self, request, position, deadline):
        for sample in super().frames(request, position, deadline):
            sample.ppi = 500.0
            yield sample


@pytest.mark.parametrize("driver, failing", [
    (LeakyDriver, {"close", "capture", "timeout", "unplug", "deadline"}),
    (DeadlineIgnoringDriver, {"deadline"}),
    (ForeverTimeoutDriver, {"deadline"}),
    (SwallowsUnplugDriver, {"unplug", "timeout"}),
    (WrongResolutionDriver, {"capture"}),
])
def test_broken_drivers_are_caught(recorded, driver, failing):
    start = time.monotonic()
    report = check_driver(driver, recorded("nb1010"), quiet_deadline_s=0.5, slack_s=0.6)
    assert time.monotonic() - start < 15  # a hanging driver does not hang the kit
    assert not report.passed
    failed = {r.name for r in report.failures}
    assert failing <= failed, str(report)
    assert "describe" not in failed
    with pytest.raises(ConformanceFailure, match=f"{driver.name}.*FAILED"):
        assert_conformant(driver, recorded("nb1010"), checks=tuple(sorted(failing & {"close", "deadline", "capture"})) or ("unplug",),
                          quiet_deadline_s=0.5, slack_s=0.6)


def test_leak_is_reported_as_still_claimed(recorded):
    report = check_driver(LeakyDriver, recorded("nb1010"), checks=("close",))
    assert "still claimed" in report.result("close").detail


def test_ignored_deadline_is_reported_as_such(recorded):
    report = check_driver(DeadlineIgnoringDriver, recorded("nb1010"), checks=("deadline",),
                          quiet_deadline_s=0.3, slack_s=0.5)
    assert "after its deadline" in report.result("deadline").detail


# --- the fault injector on its own --------------------------------------------------------------
def test_fault_injector_unplugs_and_times_out_at_transfer_k(shared_data):
    inner = open_recording(shared_data / "usb" / "nb1010").backend
    injector = FaultInjector(inner)
    bus = UsbBus("faulty", injector)
    dev = next(bus.find_all())
    injector.timeout_at(2)
    dev.write(0x02, nbp.detect_command(), timeout=100)
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(0x83, 16, timeout=100)
    assert 0.09 < time.monotonic() - start < 0.3
    assert bytes(dev.read(0x83, 16, timeout=100))[:2] == b"\x80\x37"  # not consumed by the fault
    injector.unplug_at(1)
    with pytest.raises(usb.core.USBError) as info:
        dev.write(0x02, nbp.precapture_command(), timeout=100)
    assert info.value.errno == 19 and list(bus.find_all()) == []
    injector.replug()
    assert len(list(bus.find_all())) == 1 and inner.position == 0


def test_kit_refuses_bad_arguments(recorded):
    with pytest.raises(TypeError):
        check_driver(object, recorded("nb1010"))
    with pytest.raises(ValueError):
        check_driver(Nb1010Driver, recorded("nb1010"), checks=("nonsense",))
    with pytest.raises(ValueError):
        check_driver(Nb1010Driver, recorded("nb1010"), timeout_s=0)

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
from biocap_vendor_sim import protocol as simp  # noqa: E402
from biocap_vendor_sim.drivers import SimFingerprintDriver  # noqa: E402

from conftest import shared_or_none

# The research set's NB-1010 / AES3500 sessions when present; without them, the simulator's
# FS-500 session the tests record themselves (conftest.sim_recording, finger position 2), and
# the deliberately broken drivers below are built on the simulator's driver instead.
REAL = shared_or_none("usb", "nb1010") is not None
BASE = Nb1010Driver if REAL else SimFingerprintDriver
KIT = {} if REAL else {"position": 2}


@pytest.fixture
def recorded(sim_recording):
    root = shared_or_none("usb")
    if root is None:
        return lambda name: (lambda: open_recording(sim_recording[0]))
    return lambda name: (lambda: open_recording(root / name))


@pytest.mark.parametrize("driver, recording", [(Nb1010Driver, "nb1010"), (Aes3500Driver, "aes3500")]
                         if REAL else [(SimFingerprintDriver, "simulator")])
def test_real_sensor_drivers_conform_on_their_recordings(recorded, driver, recording):
    report = assert_conformant(driver, recorded(recording), **KIT)
    assert [r.name for r in report.results] == ["describe", "capture", "close", "timeout",
                                                "unplug", "deadline"]


def test_a_recorded_bus_instance_is_restarted_between_checks(recorded):
    assert check_driver(BASE, recorded("nb1010")(), **KIT).passed


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
class LeakyDriver(BASE):
    """Forgets to release its interface on close."""

    name = "leaky-nb1010"

    def close(self):
        self.shutdown()


class _NbDeadlineIgnoringDriver(Nb1010Driver):
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


class _NbForeverTimeoutDriver(Nb1010Driver):
    """Issues its transfers with timeout 0, which pyusb reads as 'wait forever'."""

    name = "forever-nb1010"

    def _exchange(self, frame, deadline, reply_size):
        self.transport.write(nbp.EP_OUT, frame, 0)
        return self.transport.read(nbp.EP_IN, reply_size, 0)


class _SimDeadlineIgnoringDriver(SimFingerprintDriver):
    """The same fault on the simulator's protocol: POLL with the driver's own transfer timeout
    until a finger is there, whatever the request's deadline."""

    name = "stubborn-sim"

    def frames(self, request, position, deadline):
        armed = False
        while True:
            try:
                if not armed:
                    self.command(simp.Op.ARM, simp.ARM.pack(self.arm_position(request, position),
                                                             simp.MODE_CAPTURE))
                    armed = True
                presence = self.command(simp.Op.POLL)[:1]
            except TransferTimeout:
                continue
            if presence and presence[0] == simp.Presence.READY:
                info, blobs = self.grab(time.monotonic() + 60)
                yield self.to_samples((info, blobs), request, position)


class _SimForeverTimeoutDriver(SimFingerprintDriver):
    """Every transfer with timeout 0 ('wait forever' to pyusb)."""

    name = "forever-sim"

    @staticmethod
    def _timeout(deadline):
        return 0


DeadlineIgnoringDriver = _NbDeadlineIgnoringDriver if REAL else _SimDeadlineIgnoringDriver
ForeverTimeoutDriver = _NbForeverTimeoutDriver if REAL else _SimForeverTimeoutDriver


class SwallowsUnplugDriver(BASE):
    """Turns every failure into a protocol error, so the app cannot tell an unplug."""

    name = "swallow-nb1010"

    def frames(self, request, position, deadline):
        try:
            yield from super().frames(request, position, deadline)
        except Exception as exc:
            raise ProtocolError(f"something went wrong: {exc}") from None


class WrongResolutionDriver(BASE):
    name = "wrong-ppi-nb1010"

    def frames(self, request, position, deadline):
        for sample in super().frames(request, position, deadline):
            sample.ppi = 500.0 if sample.ppi != 500.0 else 1000.0
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
    report = check_driver(driver, recorded("nb1010"), quiet_deadline_s=0.5, slack_s=0.6, **KIT)
    assert time.monotonic() - start < 15  # a hanging driver does not hang the kit
    assert not report.passed
    failed = {r.name for r in report.failures}
    assert failing <= failed, str(report)
    assert "describe" not in failed
    with pytest.raises(ConformanceFailure, match=f"{driver.name}.*FAILED"):
        assert_conformant(driver, recorded("nb1010"), checks=tuple(sorted(failing & {"close", "deadline", "capture"})) or ("unplug",),
                          quiet_deadline_s=0.5, slack_s=0.6, **KIT)


def test_leak_is_reported_as_still_claimed(recorded):
    report = check_driver(LeakyDriver, recorded("nb1010"), checks=("close",), **KIT)
    assert "still claimed" in report.result("close").detail


def test_ignored_deadline_is_reported_as_such(recorded):
    report = check_driver(DeadlineIgnoringDriver, recorded("nb1010"), checks=("deadline",),
                          quiet_deadline_s=0.3, slack_s=0.5, **KIT)
    assert "after its deadline" in report.result("deadline").detail


# --- the fault injector on its own --------------------------------------------------------------
def test_fault_injector_unplugs_and_times_out_at_transfer_k(recorded):
    inner = recorded("nb1010")().backend
    t = inner.transfers  # OUT, IN, OUT to start with, on both recordings
    assert (t[0].is_in, t[1].is_in, t[2].is_in) == (False, True, False)
    if REAL:
        assert t[0].data == nbp.detect_command() and t[2].data == nbp.precapture_command()
    injector = FaultInjector(inner)
    bus = UsbBus("faulty", injector)
    dev = next(bus.find_all())
    injector.timeout_at(2)
    dev.write(t[0].endpoint, t[0].data, timeout=100)
    start = time.monotonic()
    size = max(16, len(t[1].data))
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(t[1].endpoint, size, timeout=100)
    assert 0.09 < time.monotonic() - start < 0.3
    assert bytes(dev.read(t[1].endpoint, size, timeout=100)) == t[1].data  # not consumed by the fault
    injector.unplug_at(1)
    with pytest.raises(usb.core.USBError) as info:
        dev.write(t[2].endpoint, t[2].data, timeout=100)
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

"""Driver conformance kit: tells a device vendor whether their driver behaves as biocap expects.

Call it from a test, on an emulated or a recorded bus:

    from biocap.plugins.conformance import assert_conformant
    from biocap.plugins.recording import open_recording

    def test_my_driver_conforms():
        assert_conformant(MyDriver, lambda: open_recording("recordings/my-sensor"))

What is checked (each check gets a fresh bus from the factory, or the same bus restarted):
- `describe`: the descriptors map to a sound DeviceInfo (ids, modality, ppi, image size...);
- `capture`: `open` + `frames` yield a valid Sample (2-D uint8 of the advertised size, the
  advertised resolution, the requested position and modality);
- `close`: `close` releases the interface and the device handle;
- `timeout`: a transfer that times out gives a retryable error (or is retried inside the driver)
  and the device captures again after a retry;
- `unplug`: an unplug in the middle of a capture raises DeviceDisconnected, `close` still releases
  everything, and the re-plugged device opens and captures again;
- `deadline`: on a device that stops answering, `frames` returns (or raises a retryable error)
  by the request's deadline plus one transfer timeout, and no transfer waits forever.

Faults are injected by `FaultInjector`, biocap's one fault-injecting bus
(`biocap.plugins.faultbus`, the same the simulator sits behind) wrapped around any other backend
(the emulated bus, a recording, even libusb): it unplugs the device or times transfers out at
transfer k. Every driver call runs in a watchdog thread: a driver that hangs fails the check
instead of hanging the test run.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import usb.core

from ..errors import BiocapError, DeviceDisconnected, RetryableError
from ..types import CaptureRequest, DeviceInfo, Modality, Sample
from .driver import DeviceDriver
from .faultbus import FaultBus, TransferRecord  # noqa: F401 - TransferRecord: the log's rows
from .usb import UsbBus

#: grace on top of the deadline: one transfer timeout (the driver contract) and scheduling slack
DEFAULT_SLACK_S = 1.0


class ConformanceAbort(BaseException):
    """Raised into a driver that overran its deadline, to stop it. A BaseException so that a
    driver's `except Exception` cannot swallow it."""


class ConformanceFailure(AssertionError):
    """One or more conformance checks failed; the message lists each with its reason."""


# --- fault injection ------------------------------------------------------------------------------
class FaultInjector(FaultBus):
    """biocap's fault bus (`biocap.plugins.faultbus.FaultBus`, the one the simulator sits behind)
    as the kit uses it: around any backend (the emulated bus, a recording, even libusb), faults
    counted over the whole bus (`unplug_at(k)`, `timeout_at(k, count)`, `go_quiet()`, or any
    kind with `set_faults(None, "stall@3")`), every transfer logged, and `abort()`: every later
    call raises ConformanceAbort (stops a runaway driver)."""

    def __init__(self, inner):
        super().__init__(inner, keep_log=True)
        self._aborted = False

    def abort(self) -> None:
        """Every later call raises ConformanceAbort; injected waits end at once."""
        self._aborted = True
        self.interrupt()

    def _entry(self) -> None:
        if self._aborted:
            raise ConformanceAbort("the conformance kit stopped a driver that overran its deadline")


# --- results ------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return f"[{mark}] {self.name} ({self.seconds:.2f} s){': ' + self.detail if self.detail else ''}"


@dataclass
class ConformanceReport:
    driver: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def result(self, name: str) -> CheckResult:
        """The checks' outcome; raises AssertionError naming the failed checks."""
        return next(r for r in self.results if r.name == name)

    def __str__(self) -> str:
        head = f"conformance of driver {self.driver!r}: {'PASSED' if self.passed else 'FAILED'}"
        return "\n".join([head, *(f"  {r}" for r in self.results)])


class _CheckFailed(Exception):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _CheckFailed(message)


# --- running driver code under a watchdog -------------------------------------------------------
@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    elapsed: float = 0.0
    hung: bool = False


def _bounded(fn: Callable[[], Any], limit_s: float, injector: FaultInjector) -> _Outcome:
    """Run `fn` in a daemon thread; if it is still running after `limit_s`, stop it through the
    injector (every further USB call raises ConformanceAbort) and report it as hung."""
    out = _Outcome()
    start = time.monotonic()

    def run():
        try:
            out.value = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the check, not swallowed
            out.error = exc

    worker = threading.Thread(target=run, name="conformance-driver-call", daemon=True)
    worker.start()
    worker.join(max(0.0, limit_s))
    out.elapsed = time.monotonic() - start
    if worker.is_alive():
        out.hung = True
        injector.abort()
        worker.join(2.0)
    return out


class _Session:
    """One check's bus, wrapped by a fresh FaultInjector, and the driver's device on it."""

    def __init__(self, kit: "_Kit", reuse: "_Session | None" = None):
        """A new bus and injector, or (with `reuse`) another driver on the same ones."""
        self.kit = kit
        if reuse is None:
            base = kit.fresh_bus()
            self.injector = FaultInjector(base.backend)
            self.injector.restart()
            self.bus = UsbBus(base.name, self.injector)
            kit.injectors.append(self.injector)
        else:
            self.injector, self.bus = reuse.injector, reuse.bus
        self.driver: DeviceDriver | None = None

    def device(self):
        for dev in self.bus.find_all():
            if self.kit.driver_cls.handles(dev):
                return dev
        raise _CheckFailed(f"no device on bus {self.bus.name!r} is handled by "
                           f"{self.kit.driver_cls.__name__} (usb_ids {self.kit.driver_cls.usb_ids})")

    def open(self) -> DeviceInfo:
        self.driver = self.kit.driver_cls(self.device(), self.bus)
        out = _bounded(self.driver.open, self.kit.timeout_s, self.injector)
        if out.hung:
            raise _CheckFailed(f"open() did not return within {self.kit.timeout_s:.1f} s")
        if out.error is not None:
            raise out.error
        _require(isinstance(out.value, DeviceInfo),
                 f"open() must return a DeviceInfo, returned {type(out.value).__name__}")
        return out.value

    def close(self) -> _Outcome:
        if self.driver is None:
            return _Outcome()
        return _bounded(self.driver.close, self.kit.slack_s + 1.0, self.injector)

    def capture(self, deadline: float, position: int | None, *, retry: bool = True) -> _Outcome:
        """First item of `frames`, looping on retryable errors as the SDK does (when `retry`)."""
        request = self.kit.request(deadline - time.monotonic())
        driver = self.driver

        def first_item():
            while True:
                try:
                    frames = driver.frames(request, position, deadline)
                    try:
                        return next(frames, None)
                    finally:
                        frames.close()
                except RetryableError:
                    if not retry or time.monotonic() >= deadline:
                        raise

        return _bounded(first_item, deadline - time.monotonic() + self.kit.slack_s, self.injector)

    def assert_released(self, when: str) -> None:
        _require(not self.injector.claimed,
                 f"{when}: interface(s) {self.injector.claimed_interfaces} still claimed")
        _require(not self.injector.handles,
                 f"{when}: {len(self.injector.handles)} device handle(s) still open")


# --- the checks ---------------------------------------------------------------------------------
class _Kit:
    def __init__(self, driver_cls, bus, *, timeout_s: float, quiet_deadline_s: float,
                 slack_s: float, position: int | None):
        if not (isinstance(driver_cls, type) and issubclass(driver_cls, DeviceDriver)):
            raise TypeError(f"driver_cls must be a DeviceDriver subclass, got {driver_cls!r}")
        if not (isinstance(bus, UsbBus) or callable(bus)):
            raise TypeError(f"bus must be a UsbBus or a callable returning one, got {bus!r}")
        self.driver_cls = driver_cls
        self._bus = bus
        self.timeout_s = timeout_s
        self.quiet_deadline_s = quiet_deadline_s
        self.slack_s = slack_s
        self.position = position
        self.capture_transfers: int | None = None
        self.injectors: list[FaultInjector] = []

    def fresh_bus(self) -> UsbBus:
        bus = self._bus() if callable(self._bus) and not isinstance(self._bus, UsbBus) else self._bus
        if not isinstance(bus, UsbBus):
            raise TypeError(f"the bus factory returned {type(bus).__name__}, not a UsbBus")
        return bus

    def request(self, timeout_s: float) -> CaptureRequest:
        return CaptureRequest(self.driver_cls.modality, timeout_s=max(0.05, timeout_s))

    def positions_for(self, info: DeviceInfo) -> tuple[int | None, tuple[int, ...]]:
        """(position to pass to frames, positions the yielded samples must carry)."""
        wanted = self.position
        if wanted is None:
            wanted = next((p for p in info.positions if p), None)
        probe = self.driver_cls.__new__(self.driver_cls)
        groups = self.driver_cls.position_groups(probe, (wanted,) if wanted is not None else ())
        group = groups[0] if groups else ()
        if len(group) > 1:
            return None, tuple(group)
        return wanted, tuple(group)

    # each check returns a detail string or raises _CheckFailed
    def check_describe(self) -> str:
        session = _Session(self)
        dev = session.device()
        cls = self.driver_cls
        info = cls.describe(dev, session.bus)
        _require(isinstance(info, DeviceInfo), f"describe() returned {type(info).__name__}")
        _require(isinstance(cls.name, str) and cls.name and info.driver == cls.name,
                 f"DeviceInfo.driver {info.driver!r} must be the driver's name {cls.name!r}")
        _require(isinstance(info.id, str) and session.bus.name in info.id and cls.name in info.id,
                 f"DeviceInfo.id {info.id!r} must name the bus and the driver")
        _require(info.id == cls.device_id(dev, session.bus), "DeviceInfo.id is not device_id()")
        _require((info.vendor_id, info.product_id) == (dev.idVendor, dev.idProduct),
                 f"ids {info.vendor_id:04x}:{info.product_id:04x} differ from the descriptor's "
                 f"{dev.idVendor:04x}:{dev.idProduct:04x}")
        _require((dev.idVendor, dev.idProduct) in cls.usb_ids, "device not in usb_ids")
        _require(info.modality == cls.modality, f"modality {info.modality} is not {cls.modality}")
        _require(info.bus == session.bus.name, f"bus {info.bus!r} is not {session.bus.name!r}")
        _require(info.ppi is not None and 50 <= info.ppi <= 5000,
                 f"ppi {info.ppi!r} must be the sensor's resolution (50-5000), never guessed later")
        _require(info.image_size is not None and len(info.image_size) == 2
                 and all(isinstance(v, int) and 8 <= v <= 8192 for v in info.image_size),
                 f"image_size {info.image_size!r} must be (width, height) in pixels")
        _require(all(isinstance(p, int) and 0 <= p <= 20 for p in info.positions),
                 f"positions {info.positions!r} must be ISO position codes")
        _require(all(isinstance(s, str) for s in (info.vendor, info.model, info.serial)),
                 "vendor, model and serial must be strings")
        json.dumps(info.to_json())
        return f"{info.id}: {info.vendor} {info.model}, {info.ppi} ppi, {info.image_size}"

    def check_capture(self) -> str:
        session = _Session(self)
        info = session.open()
        try:
            position, expected_positions = self.positions_for(info)
            start = session.injector.transfers
            deadline = time.monotonic() + self.timeout_s
            out = session.capture(deadline, position)
            self.capture_transfers = session.injector.transfers - start
            if out.hung:
                raise _CheckFailed(f"frames() ran {out.elapsed:.1f} s, past its deadline")
            if out.error is not None:
                raise _CheckFailed(f"frames() raised {type(out.error).__name__}: {out.error}")
            _require(out.value is not None, f"frames() yielded nothing within {self.timeout_s} s")
            samples = out.value if isinstance(out.value, tuple) else (out.value,)
            _require(len(samples) == max(1, len(expected_positions)),
                     f"{len(samples)} sample(s) for positions {expected_positions}")
            for i, sample in enumerate(samples):
                self._check_sample(sample, info, expected_positions[i] if expected_positions
                                   else None)
            grouped = self._check_grouped_capture(session, info)
        finally:
            closed = session.close()
        if closed.hung or closed.error is not None:
            raise _CheckFailed(f"close() after a capture failed: {closed.error or 'hung'}")
        session.assert_released("after close() following a capture")
        s = samples[0]
        return (f"{s.width}x{s.height} {s.image.dtype} at {s.ppi:g} ppi, position {s.position!r}, "
                f"{self.capture_transfers} transfers{grouped}")

    def _check_grouped_capture(self, session: "_Session", info: DeviceInfo) -> str:
        """A device that captures several positions at once (a dual iris camera) yields one
        tuple of Samples per frame, one per position of the group, in order."""
        if self.position is not None or len(info.positions) < 2:
            return ""
        groups = session.driver.position_groups(tuple(p for p in info.positions if p))
        group = next((g for g in groups if len(g) > 1), None)
        if group is None:
            return ""
        session.injector.restart()
        out = session.capture(time.monotonic() + self.timeout_s, None)
        if out.hung or out.error is not None:
            raise _CheckFailed(f"grouped capture of positions {group} failed: "
                               f"{out.error or 'hung past its deadline'}")
        _require(isinstance(out.value, tuple) and len(out.value) == len(group),
                 f"a grouped capture of positions {group} must yield a tuple of {len(group)} "
                 f"Samples, yielded {type(out.value).__name__}")
        for sample, position in zip(out.value, group):
            self._check_sample(sample, info, position)
        return f"; grouped capture of positions {group} ok"

    def _check_sample(self, sample, info: DeviceInfo, position) -> None:
        _require(isinstance(sample, Sample), f"frames() yielded {type(sample).__name__}, not Sample")
        _require(isinstance(sample.image, np.ndarray) and sample.image.ndim == 2
                 and sample.image.dtype == np.uint8,
                 f"image must be 2-D uint8, is {getattr(sample.image, 'shape', '?')} "
                 f"{getattr(sample.image, 'dtype', '?')}")
        if info.image_size is not None:
            _require((sample.width, sample.height) == tuple(info.image_size),
                     f"image is {sample.width}x{sample.height}, the device advertises "
                     f"{info.image_size[0]}x{info.image_size[1]}")
        _require(info.ppi is not None and abs(sample.ppi - info.ppi) < 1e-6,
                 f"sample at {sample.ppi} ppi, the device advertises {info.ppi}")
        _require(sample.modality == Modality(self.driver_cls.modality),
                 f"sample modality {sample.modality} is not the driver's")
        if position is not None:
            _require(sample.position is not None and int(sample.position) == int(position),
                     f"sample position {sample.position!r}, requested {position}")

    def check_close(self) -> str:
        session = _Session(self)
        info = session.open()
        _require(bool(session.injector.claimed), "open() did not claim the interface")
        position, _ = self.positions_for(info)
        session.capture(time.monotonic() + self.timeout_s, position)
        closed = session.close()
        if closed.hung:
            raise _CheckFailed("close() hung")
        if closed.error is not None:
            raise _CheckFailed(f"close() raised {type(closed.error).__name__}: {closed.error}")
        session.assert_released("after close()")
        # and the device can be opened again at once (nothing left busy)
        session.injector.restart()
        again = _Session(self, reuse=session)
        again.open()
        again.close()
        session.assert_released("after a second open/close")
        return "interface and handle released; reopened"

    def _fault_point(self) -> int:
        """Which capture transfer to hit: the middle of a capture as measured by check_capture."""
        n = self.capture_transfers or 2
        return max(1, n // 2)

    def check_timeout(self) -> str:
        session = _Session(self)
        info = session.open()
        position, _ = self.positions_for(info)
        k = self._fault_point()
        session.injector.timeout_at(k)
        deadline = time.monotonic() + self.timeout_s
        out = session.capture(deadline, position, retry=False)
        if out.hung:
            raise _CheckFailed(f"after a timeout frames() ran {out.elapsed:.1f} s, past its deadline")
        err = out.error
        if err is not None and not isinstance(err, RetryableError):
            raise _CheckFailed(f"a transfer timeout gave {type(err).__name__}: {err}; it must be "
                               "a RetryableError (e.g. TransferTimeout) so apps retry")
        outcome = (f"raised {type(err).__name__}" if err is not None
                   else "handled inside the driver")
        closed = session.close()
        if closed.hung or closed.error is not None:
            raise _CheckFailed(f"close() after a timeout failed: {closed.error or 'hung'}")
        session.assert_released("after a timeout and close()")
        # retry: a new open and capture works (a recording starts its session over)
        session.injector.restart()
        retry = _Session(self, reuse=session)
        retry.open()
        try:
            again = retry.capture(time.monotonic() + self.timeout_s, position)
            _require(not again.hung and again.error is None and again.value is not None,
                     f"the retry after a timeout did not capture: {again.error or 'nothing'}")
        finally:
            retry.close()
        return f"timeout at capture transfer {k}: {outcome}; the retry captured"

    def check_unplug(self) -> str:
        session = _Session(self)
        info = session.open()
        position, _ = self.positions_for(info)
        k = self._fault_point()
        session.injector.unplug_at(k)
        out = session.capture(time.monotonic() + self.timeout_s, position)
        if out.hung:
            raise _CheckFailed(f"after an unplug frames() ran {out.elapsed:.1f} s, past its deadline")
        _require(isinstance(out.error, DeviceDisconnected),
                 f"an unplug at capture transfer {k} must raise DeviceDisconnected, got "
                 f"{type(out.error).__name__ if out.error else 'no error'}: {out.error}")
        closed = session.close()
        if closed.hung or closed.error is not None:
            raise _CheckFailed(f"close() after an unplug must not fail: {closed.error or 'hung'}")
        session.assert_released("after an unplug and close()")
        _require(not list(session.bus.find_all()), "the unplugged device is still enumerated")
        session.injector.replug()
        session.driver = None
        info2 = session.open()
        try:
            again = session.capture(time.monotonic() + self.timeout_s, position)
            _require(not again.hung and again.error is None and again.value is not None,
                     f"the re-plugged device did not capture: {again.error or 'nothing'}")
        finally:
            session.close()
        return f"unplug at capture transfer {k}: DeviceDisconnected; recovered as {info2.id}"

    def check_deadline(self) -> str:
        session = _Session(self)
        info = session.open()
        position, _ = self.positions_for(info)
        session.injector.go_quiet()
        first = len(session.injector.log)
        deadline = time.monotonic() + self.quiet_deadline_s
        request = self.request(self.quiet_deadline_s)
        driver = session.driver

        def drain():
            # iterate as far as the driver goes: a conformant one stops at the deadline
            count = 0
            for _ in driver.frames(request, position, deadline):
                count += 1
            return count

        out = _bounded(drain, self.quiet_deadline_s + self.slack_s, session.injector)
        late = out.elapsed - self.quiet_deadline_s
        if out.hung:
            raise _CheckFailed(f"frames() was still running {late:.1f} s after its deadline on a "
                               "device that stopped answering (it ignores the request's timeout)")
        err = out.error
        _require(err is None or isinstance(err, RetryableError),
                 f"a silent device gave {type(err).__name__}: {err}; expected a retryable error "
                 "or the end of frames()")
        infinite = [r for r in session.injector.log[first:] if r.timeout_ms <= 0]
        _require(not infinite, f"{len(infinite)} transfer(s) issued with no timeout (0 = wait "
                               "forever); cut every transfer's timeout to the deadline")
        overrun = [r for r in session.injector.log[first:]
                   if r.started + r.timeout_ms / 1000 > deadline + self.slack_s]
        _require(not overrun, f"a {overrun[0].timeout_ms} ms transfer started "
                              f"{deadline - overrun[0].started:.2f} s before the deadline"
                 if overrun else "")
        closed = session.close()
        if closed.hung:
            raise _CheckFailed("close() hung on a silent device")
        session.assert_released("after close() on a silent device")
        return f"frames() ended {max(0.0, late):.2f} s after its deadline " + (
            f"with {type(err).__name__}" if err else "cleanly")


CHECKS = ("describe", "capture", "close", "timeout", "unplug", "deadline")


def check_driver(driver_cls: type[DeviceDriver], bus: UsbBus | Callable[[], UsbBus], *,
                 checks: tuple[str, ...] = CHECKS, timeout_s: float = 10.0,
                 quiet_deadline_s: float = 1.0, slack_s: float = DEFAULT_SLACK_S,
                 position: int | None = None) -> ConformanceReport:
    """Run the conformance checks on `driver_cls` against `bus` and return a report.

    `bus` is a UsbBus (a recorded bus is restarted before each check) or a callable returning a
    fresh one. `timeout_s` bounds each capture; `quiet_deadline_s` is the request deadline used
    on a device that stopped answering; `slack_s` is the grace past a deadline (one transfer
    timeout). `position` is the position to capture (default: the first the device advertises).
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    if not (timeout_s > 0 and quiet_deadline_s > 0 and slack_s >= 0):
        raise ValueError("timeout_s and quiet_deadline_s must be positive, slack_s non-negative")
    kit = _Kit(driver_cls, bus, timeout_s=timeout_s, quiet_deadline_s=quiet_deadline_s,
               slack_s=slack_s, position=position)
    report = ConformanceReport(getattr(driver_cls, "name", driver_cls.__name__))
    # capture runs first among the device checks: the fault checks aim at the middle of a capture
    order = sorted(checks, key=CHECKS.index)
    for name in order:
        start = time.monotonic()
        try:
            detail = getattr(kit, f"check_{name}")()
            report.results.append(CheckResult(name, True, detail, time.monotonic() - start))
        except _CheckFailed as exc:
            report.results.append(CheckResult(name, False, str(exc), time.monotonic() - start))
        except (BiocapError, usb.core.USBError, ConformanceAbort, Exception) as exc:
            report.results.append(CheckResult(name, False, f"{type(exc).__name__}: {exc}",
                                              time.monotonic() - start))
        finally:
            for injector in kit.injectors:  # whatever the driver left behind, for the next check
                injector.force_cleanup()
            kit.injectors.clear()
    return report


def assert_conformant(driver_cls: type[DeviceDriver], bus: UsbBus | Callable[[], UsbBus],
                      **options) -> ConformanceReport:
    """`check_driver`, raising ConformanceFailure (an AssertionError) listing what failed."""
    report = check_driver(driver_cls, bus, **options)
    if not report.passed:
        raise ConformanceFailure(str(report))
    return report

"""The SDK object: devices on every bus, capture with registration semantics, providers by modality.

    sdk = SDK()
    for info in sdk.devices(): ...
    with sdk.open("fingerprint") as device:
        result = device.capture(CaptureRequest("fingerprint", positions=(2, 7)))

Capture (after MOSIP's registration capture): the device streams frames; each is scored by the
modality's registered quality provider (the *SDK score*, reported apart from the device's own);
the capture stops as soon as the score reaches `request.quality_threshold`, otherwise the best
frame at the timeout wins. Without a quality provider the report says so (no invented number) and
the first valid frame is taken. Retryable errors (no presentation yet, transfer timeout...) are
retried until the deadline; `attempts` gives further whole tries of `timeout_s` each.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import usb.util

from .errors import (BiocapError, DeviceError, InvalidDataError, InvalidSample, NoProvider,
                     NoSuchDevice, PluginError, RetryableError, SubjectTimeout, TransferTimeout)
from .plugins.driver import DeviceDriver
from .plugins.manager import PluginManager, PluginProblem
from .plugins.usb import UsbBus, system_bus
from .quality.report import QualityReport
from .types import CaptureRequest, CaptureResult, DeviceInfo, Modality, Sample

log = logging.getLogger("biocap.sdk")

#: environment variable naming the drivers that win a conflict over one device (comma-separated)
PREFER_DRIVERS_ENV = "BIOCAP_PREFER_DRIVERS"

_HOOKS = ("biocap_drivers", "biocap_usb_buses", "biocap_quality_providers", "biocap_extractors",
          "biocap_comparators")


@dataclass
class PreviewFrame:
    """One live frame: the samples (several for a dual camera), a quick quality, an operator hint."""

    samples: tuple[Sample, ...]
    quality: list[QualityReport]
    hint: str
    error: BiocapError | None = None  # set (and samples empty) when the frame loop had to retry
    elapsed_s: float = 0.0

    @property
    def sample(self) -> Sample | None:
        return self.samples[0] if self.samples else None

    @property
    def sdk_score(self) -> int | None:
        scores = [r.score for r in self.quality]
        return None if not scores or None in scores else min(scores)

    @property
    def device_quality(self) -> int | None:
        scores = [s.device_quality for s in self.samples]
        return None if not scores or None in scores else min(scores)


@dataclass
class _Candidate:
    samples: tuple[Sample, ...]
    reports: list[QualityReport]

    @property
    def key(self) -> tuple[int, int]:
        """Rank: SDK score first (unscored lowest), the device's score to break ties."""
        sdk = [r.score for r in self.reports]
        dev = [s.device_quality for s in self.samples]
        return (min(sdk) if sdk and None not in sdk else -1,
                min(dev) if dev and None not in dev else -1)


@dataclass
class _Found:
    info: DeviceInfo
    driver_cls: type[DeviceDriver]
    bus: UsbBus
    usb_device: Any = field(repr=False, default=None)


class SDK:
    """Plugins, buses, devices and algorithm providers in one place."""

    def __init__(self, plugins: Iterable[Any] | None = None, extra_buses: Iterable[UsbBus] = (),
                 load_entry_points: bool = True, prefer_drivers: Iterable[str] = ()):
        """`prefer_drivers`: driver names that win when several drivers claim the same device
        (default: the environment's BIOCAP_PREFER_DRIVERS, comma-separated; else the first
        registered wins and the conflict is reported in `problems`)."""
        self.plugins = PluginManager(load_entry_points=load_entry_points)
        preferred = list(prefer_drivers) or [
            n.strip() for n in os.environ.get(PREFER_DRIVERS_ENV, "").split(",") if n.strip()]
        self.prefer_drivers: tuple[str, ...] = tuple(preferred)
        for plugin in plugins or ():
            self.register(plugin)
        self.extra_buses = list(extra_buses)
        for bus in self.extra_buses:
            if not isinstance(bus, UsbBus):
                raise PluginError(f"extra_buses takes biocap.plugins.usb.UsbBus objects, got "
                                  f"{type(bus).__name__}", hint="wrap a pyusb backend: UsbBus(name, backend)")
        self._cache: dict[str, list] = {}
        self._system_bus: UsbBus | None | bool = False  # False = not looked for yet
        self.device_problems: list[PluginProblem] = []

    # --- plugins ------------------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (a module or an object with hookimpls) from code."""
        self._cache = {}
        if name is None:  # a readable name for problem reports (pluggy would use the object id)
            base = getattr(plugin, "__name__", None) or type(plugin).__name__
            name, n = base, 1
            while name in self.plugins.plugin_names:
                n += 1
                name = f"{base}-{n}"
        return self.plugins.register(plugin, name=name)

    @property
    def problems(self) -> list[PluginProblem]:
        """Everything that failed to load, answer or describe itself (never raised)."""
        return self.plugins.problems + self.device_problems

    def _collect(self, hook: str) -> list:
        if hook not in self._cache:
            self._cache[hook] = self.plugins.collect(hook)
        return self._cache[hook]

    def drivers(self) -> list[type[DeviceDriver]]:
        """The driver classes every plugin registered (non-drivers are reported as problems)."""
        found = []
        for cls in self._collect("biocap_drivers"):
            if isinstance(cls, type) and issubclass(cls, DeviceDriver):
                if cls not in found:  # one class contributed twice (two plugin objects) is one driver
                    found.append(cls)
            else:
                self._note("drivers", "biocap_drivers", f"{cls!r} is not a DeviceDriver subclass")
        return found

    def buses(self) -> list[UsbBus]:
        """The USB buses searched for devices: the system's (when libusb is found), plugins', extra."""
        if self._system_bus is False:
            self._system_bus = system_bus()
        buses = [self._system_bus] if self._system_bus else []
        for bus in self._collect("biocap_usb_buses"):
            if isinstance(bus, UsbBus):
                buses.append(bus)
            else:
                self._note("buses", "biocap_usb_buses", f"{bus!r} is not a UsbBus")
        buses += self.extra_buses
        names = [b.name for b in buses]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self._note(f"bus {name}", "buses", "several buses share this name, so their device "
                       "ids collide; give each bus its own name")
        return buses

    def _note(self, who: str, stage: str, error: str) -> None:
        problem = PluginProblem(who, stage, error)
        if problem not in self.device_problems:
            self.device_problems.append(problem)
            log.warning("%s", problem)

    # --- devices ------------------------------------------------------------------------------
    def _scan(self) -> list[_Found]:
        drivers = self.drivers()
        found: list[_Found] = []
        for bus in self.buses():
            try:
                usb_devices = list(bus.find_all())
            except Exception as exc:  # one bad bus must not hide the others
                self._note(f"bus {bus.name}", "enumerate", f"{type(exc).__name__}: {exc}")
                continue
            for dev in usb_devices:
                claimants = []
                for cls in drivers:
                    try:
                        if cls.handles(dev):
                            claimants.append(cls)
                    except Exception as exc:
                        self._note(_driver_name(cls), "handles", f"{type(exc).__name__}: {exc}")
                for cls in self._ranked(claimants, dev, bus):
                    try:
                        info = cls.describe(dev, bus)
                    except Exception as exc:
                        self._note(_driver_name(cls), "describe", f"{type(exc).__name__}: {exc}")
                        continue
                    finally:
                        _dispose(dev)
                    found.append(_Found(info, cls, bus, dev))
                    break
        return found

    def _ranked(self, claimants: list[type[DeviceDriver]], dev, bus: UsbBus) -> list:
        """The drivers claiming one device, the one to use first. Several claimants are a
        conflict: reported (never silent), resolved by `prefer_drivers`, else the most recently
        registered plugin (pluggy's order) wins."""
        if len(claimants) < 2:
            return claimants
        names = [_driver_name(c) for c in claimants]
        rank = {n: i for i, n in enumerate(self.prefer_drivers)}
        ordered = sorted(claimants, key=lambda c: rank.get(_driver_name(c), len(rank)))
        chosen = _driver_name(ordered[0])
        how = ("chosen by the driver preference" if chosen in rank else
               f"the most recently registered plugin's; choose with {PREFER_DRIVERS_ENV}=NAME or "
               "SDK(prefer_drivers=[NAME]) or uninstall the other plugin")
        vid_pid = f"{getattr(dev, 'idVendor', 0):04x}:{getattr(dev, 'idProduct', 0):04x}"
        self._note(f"device {vid_pid} on bus {bus.name}", "driver conflict",
                   f"claimed by {len(names)} drivers ({', '.join(names)}); using {chosen!r} ({how})")
        return ordered

    def devices(self) -> list[DeviceInfo]:
        """Every device a registered driver handles, on every bus (system, plugins', extra)."""
        return [f.info for f in self._scan()]

    def _resolve(self, device: str | DeviceInfo) -> _Found:
        key = device.id if isinstance(device, DeviceInfo) else device
        if not isinstance(key, str) or not key:
            raise NoSuchDevice(f"device must be an id string, got {device!r}")
        found = self._scan()
        exact = [f for f in found if f.info.id == key]
        if exact:
            return exact[0]
        by_name = [f for f in found if key in (f.info.modality.value, f.info.driver)]
        if len(by_name) == 1:
            return by_name[0]
        listing = ", ".join(f.info.id for f in found) or "none"
        if len(by_name) > 1:
            raise NoSuchDevice(f"{key!r} matches {len(by_name)} devices; give one of their ids: "
                               + ", ".join(f.info.id for f in by_name))
        raise NoSuchDevice(f"no device {key!r}; connected devices: {listing}")

    def open(self, device: str | DeviceInfo) -> "Device":
        """Open a device by its full id, or by modality / driver name when only one matches.
        Use as a context manager (or call `close()`)."""
        found = self._resolve(device)
        driver = found.driver_cls(found.usb_device, found.bus)
        info = driver.open()
        return Device(self, driver, info)

    # --- algorithm providers ------------------------------------------------------------------
    def _provider(self, hook: str, modality: Modality | str) -> Any | None:
        modality = Modality(modality)
        for provider in self._collect(hook):
            try:
                if Modality(getattr(provider, "modality", None)) is modality:
                    return provider
            except ValueError:
                continue
        return None

    def quality_provider(self, modality: Modality | str):
        """The registered quality provider of a modality, or None."""
        return self._provider("biocap_quality_providers", modality)

    def _require(self, hook: str, what: str, modality) -> Any:
        provider = self._provider(hook, modality)
        if provider is None:
            raise NoProvider(f"no {what} is registered for {Modality(modality).value}")
        return provider

    def comparator(self, modality: Modality | str):
        """The registered 1:1 comparator of a modality (NoProvider if there is none)."""
        return self._require("biocap_comparators", "comparator", modality)

    def assess(self, sample: Sample) -> QualityReport:
        """Quality of a sample by the registered provider of its modality."""
        _check_sample(sample)
        return self._require("biocap_quality_providers", "quality provider", sample.modality).assess(sample)

    def extract(self, sample: Sample):
        """A template of the sample by the registered extractor of its modality."""
        _check_sample(sample)
        return self._require("biocap_extractors", "extractor", sample.modality).extract(sample)

    def compare(self, a: Any, b: Any, *, modality: Modality | str | None = None) -> float:
        """1:1 comparison score of two templates (Samples are extracted first)."""
        if isinstance(a, Sample):
            a = self.extract(a)
        if isinstance(b, Sample):
            b = self.extract(b)
        modality = modality or _modality_of(a) or _modality_of(b)
        if modality is None:
            raise NoProvider(f"cannot tell the modality of a {type(a).__name__}",
                             hint="pass modality=... to compare")
        return self._require("biocap_comparators", "comparator", modality).compare(a, b)

    # --- scoring used by Device ---------------------------------------------------------------
    def _score(self, sample: Sample, *, quick: bool = False) -> QualityReport:
        provider = self.quality_provider(sample.modality)
        if provider is None:
            return QualityReport.unscored(sample.modality, f"no quality provider is registered for "
                                          f"{sample.modality.value}")
        name = getattr(provider, "name", type(provider).__name__)
        assess = getattr(provider, "quick_assess", None) if quick else None
        try:
            report = (assess or provider.assess)(sample)
        except BiocapError as exc:
            return QualityReport(sample.modality, None, name, reason=f"not assessable: {exc}")
        except Exception as exc:  # a provider's bug must not stop a capture
            self._note(name, "assess", f"{type(exc).__name__}: {exc}")
            return QualityReport(sample.modality, None, name, reason=f"provider failed: {exc}")
        if not isinstance(report, QualityReport):
            return QualityReport(sample.modality, None, name,
                                 reason=f"provider returned {type(report).__name__}, not a QualityReport")
        return report


class Device:
    """An opened device. Close it (or use `with`) to release its interface."""

    def __init__(self, sdk: SDK, driver: DeviceDriver, info: DeviceInfo):
        self.sdk = sdk
        self.driver = driver
        self.info = info
        self._closed = False

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the device's interface (also done on leaving a `with` block)."""
        if not self._closed:
            self._closed = True
            self.driver.close()

    def _check(self, request: CaptureRequest) -> None:
        if self._closed:
            raise DeviceError(f"{self.info.id} is closed", hint="open it again with sdk.open(...)")
        if not isinstance(request, CaptureRequest):
            raise InvalidSample(f"capture takes a CaptureRequest, got {type(request).__name__}",
                                hint="build one: CaptureRequest(modality, positions=...)")
        if request.modality is not self.info.modality:
            raise DeviceError(f"{self.info.id} captures {self.info.modality.value}, "
                              f"not {request.modality.value}", hint="open a device of that modality")
        unsupported = [p for p in request.wanted_positions
                       if self.info.positions and p not in self.info.positions]
        if unsupported:
            raise DeviceError(f"{self.info.id} cannot capture position(s) {unsupported}; it "
                              f"supports {list(self.info.positions)}")

    def capture(self, request: CaptureRequest) -> CaptureResult:
        """Capture the requested positions: stream frames, score each, stop at the quality threshold (or take the best at the timeout)."""
        self._check(request)
        started = time.monotonic()
        samples, reports, auto = [], [], []
        for group in self.driver.position_groups(request.wanted_positions):
            candidate, reached, stats = self._capture_group(request, group)
            for sample, report in zip(candidate.samples, candidate.reports):
                sample.metadata.update(stats, retried=list(stats["retried"]), sdk_quality=report.score, auto_captured=reached,
                                       quality_provider=report.provider)
                samples.append(sample)
                reports.append(report)
                auto.append(reached)
        return CaptureResult(request=request, samples=samples, reports=reports,
                             missing=dict(request.missing), auto_captured=auto,
                             elapsed_s=time.monotonic() - started)

    def _capture_group(self, request: CaptureRequest, group: tuple[int, ...]):
        position = group[0] if len(group) == 1 else None
        scored = self.sdk.quality_provider(request.modality) is not None
        best: _Candidate | None = None
        last_error: RetryableError | None = None
        retried: list[str] = []
        frames = 0
        for attempt in range(1, request.attempts + 1):
            deadline = time.monotonic() + request.timeout_s
            while time.monotonic() < deadline:
                stream = self.driver.frames(request, position, deadline)
                try:
                    for item in stream:
                        items = tuple(item) if isinstance(item, (tuple, list)) else (item,)
                        frames += 1
                        candidate = _Candidate(items, [self.sdk._score(s) for s in items])
                        stats = {"frames_seen": frames, "attempt": attempt, "retried": retried}
                        if not scored:  # nothing to wait for: the first valid frame
                            return candidate, False, stats
                        if best is None or candidate.key > best.key:
                            best = candidate
                        if candidate.key[0] >= request.quality_threshold:
                            return candidate, True, stats
                    break  # the stream ended: the deadline passed
                except RetryableError as exc:
                    last_error = exc
                    retried.append(type(exc).__name__)
                    log.info("retrying after %s", exc)
                finally:
                    stream.close()
            if best is not None and attempt == request.attempts:
                break
        if best is not None:
            return best, False, {"frames_seen": frames, "attempt": request.attempts, "retried": retried}
        if isinstance(last_error, TransferTimeout):
            raise last_error
        what = f" (last: {last_error})" if last_error else ""
        raise SubjectTimeout(f"{self.info.id}: no usable frame within {request.timeout_s:g} s x "
                             f"{request.attempts} attempt(s){what}")

    def preview(self, request: CaptureRequest | None = None, *, max_frames: int | None = None,
                duration_s: float | None = None) -> Iterator[PreviewFrame]:
        """Live frames, each with a quick quality (the provider's `quick_assess`, else `assess`)
        and a hint for the operator; retryable conditions come as frames with `error` set."""
        request = request or CaptureRequest(self.info.modality, timeout_s=3600)
        self._check(request)
        if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
            raise InvalidDataError(f"max_frames must be a whole number of at least 1, got {max_frames!r}")
        if duration_s is not None and not duration_s > 0:
            raise InvalidDataError(f"duration_s must be positive, got {duration_s!r}")
        group = self.driver.position_groups(request.wanted_positions)[0]
        position = group[0] if len(group) == 1 else None
        end = time.monotonic() + duration_s if duration_s else None
        shown = 0
        while (max_frames is None or shown < max_frames) and (end is None or time.monotonic() < end):
            deadline = end if end is not None else time.monotonic() + 3600
            stream = self.driver.frames(request, position, deadline)
            t0 = time.monotonic()
            try:
                for item in stream:
                    items = tuple(item) if isinstance(item, (tuple, list)) else (item,)
                    reports = [self.sdk._score(s, quick=True) for s in items]
                    frame = PreviewFrame(items, reports, "", elapsed_s=time.monotonic() - t0)
                    frame.hint = _hint(frame, request.quality_threshold)
                    yield frame
                    shown += 1
                    t0 = time.monotonic()
                    if (max_frames is not None and shown >= max_frames) or \
                            (end is not None and time.monotonic() >= end):
                        return
            except RetryableError as exc:
                yield PreviewFrame((), [], exc.hint or str(exc), error=exc,
                                   elapsed_s=time.monotonic() - t0)
                shown += 1
            finally:
                stream.close()


def _hint(frame: PreviewFrame, threshold: int) -> str:
    for report in frame.quality:
        if report.feedback:
            return report.feedback[0].message
    score = frame.sdk_score
    if score is None:
        reasons = {r.reason for r in frame.quality if r.reason}
        return f"device quality {frame.device_quality} ({'; '.join(sorted(reasons)) or 'unscored'})"
    if score >= threshold:
        return "good: ready to capture"
    return "hold still: quality is still below the threshold"


def _driver_name(cls: Any) -> str:
    return str(getattr(cls, "name", None) or getattr(cls, "__name__", repr(cls)))


def _check_sample(sample: Any) -> None:
    if not isinstance(sample, Sample):
        raise InvalidSample(f"expected a biocap Sample, got {type(sample).__name__}")


def _modality_of(obj: Any) -> Modality | None:
    """The modality a template declares (its `modality` attribute); never guessed from a name."""
    value = getattr(obj, "modality", None)
    if value is None:
        return None
    try:
        return Modality(value)
    except ValueError:
        return None


def _dispose(dev) -> None:
    try:
        usb.util.dispose_resources(dev)
    except Exception as exc:  # the device may be gone already
        log.debug("dispose_resources: %s", exc)

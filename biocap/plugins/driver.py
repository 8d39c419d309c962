"""The base classes of device driver plugins.

`DeviceDriver` is the life cycle every driver has (claim, initialise with retries, release).
`ImageDriver` adds what an imaging sensor does between the two (libfprint's image-device split):
it runs the poll loop (wait for a presentation, read a frame, repeat until the deadline) and
builds the Samples, so a driver is its id table, its sensor facts and a few hooks.
"""
from __future__ import annotations

import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, ClassVar, Iterator

import usb.core

from ..errors import (CentreThePresentation, NoPresentation, PresentationMoved, RetryableError,
                      TransferTimeout)
from ..types import (CaptureRequest, DeviceInfo, FingerPosition, Modality, Position, Sample)
from .usb import UsbBus, UsbTransport, read_string

log = logging.getLogger("biocap.driver")

#: how long `open()` keeps retrying `initialise()` after a retryable condition (a lost or late
#: reply, firmware busy calibrating): a few transfer timeouts, short enough for an operator
OPEN_RETRY_S = 3.0
#: pause between two tries of `initialise()` (lets a late reply arrive and be discarded, gives a
#: calibrating firmware a moment)
OPEN_RETRY_PAUSE_S = 0.1


class DeviceDriver(ABC):
    """A driver for one kind of USB device. It speaks to the device only through `self.transport`.

    Life cycle (the SDK drives it): `open()` claims the interface and brings the device up;
    `frames(request, position, deadline)` yields candidate Samples as the device delivers them
    (the SDK scores them and decides when to stop); `close()` releases everything, even after an
    error. Retryable conditions raise `biocap.errors.RetryableError` subclasses; transport failures
    arrive already mapped (disconnected, timeout, busy...).
    """

    #: (vendor id, product id) pairs this driver handles
    usb_ids: ClassVar[tuple[tuple[int, int], ...]] = ()
    modality: ClassVar[Modality]
    #: unique, short, stable name, e.g. "sim-fingerprint", "nb1010"
    name: ClassVar[str]
    interface: ClassVar[int] = 0
    #: seconds `open()` retries `initialise()` after a RetryableError (0: no retry)
    open_retry_s: ClassVar[float] = OPEN_RETRY_S

    def __init__(self, usb_device: usb.core.Device, bus: UsbBus):
        self.usb_device = usb_device
        self.bus = bus
        self.transport = UsbTransport(usb_device, self.interface)

    @classmethod
    def handles(cls, usb_device: usb.core.Device) -> bool:
        return (usb_device.idVendor, usb_device.idProduct) in cls.usb_ids

    @classmethod
    def device_id(cls, usb_device: usb.core.Device, bus: UsbBus) -> str:
        """A stable id: bus name, driver name and the device's place on the bus."""
        return f"{bus.name}:{cls.name}:{usb_device.bus:03d}-{usb_device.address:03d}"

    @classmethod
    def describe(cls, usb_device: usb.core.Device, bus: UsbBus) -> DeviceInfo:
        """DeviceInfo from the descriptors alone (no claim). Drivers override to add ppi etc."""
        return DeviceInfo(
            id=cls.device_id(usb_device, bus), modality=cls.modality,
            vendor=read_string(usb_device, usb_device.iManufacturer),
            model=read_string(usb_device, usb_device.iProduct),
            serial=read_string(usb_device, usb_device.iSerialNumber),
            vendor_id=usb_device.idVendor, product_id=usb_device.idProduct,
            bus=bus.name, driver=cls.name,
            firmware=f"{usb_device.bcdDevice >> 8}.{usb_device.bcdDevice & 0xff:02x}",
        )

    # --- life cycle -----------------------------------------------------------------------------
    def open(self) -> DeviceInfo:
        """Claim the interface and initialise the device; return its DeviceInfo. A retryable
        condition while initialising (timeout, late answer, firmware busy) is retried for
        `open_retry_s` seconds, then raised (still retryable); nothing is left claimed."""
        self.transport.open()
        try:
            self._initialise_with_retries()
        except BaseException:
            self.transport.close()
            raise
        self.info = self.describe(self.usb_device, self.bus)
        return self.info

    def _initialise_with_retries(self) -> None:
        deadline = time.monotonic() + self.open_retry_s
        tries = 0
        while True:
            tries += 1
            try:
                self.initialise()
                return
            except RetryableError as exc:
                if time.monotonic() + OPEN_RETRY_PAUSE_S >= deadline:
                    exc.add_note(f"opening {self.name}: {tries} tries in {self.open_retry_s:g} s")
                    raise
                log.info("%s: retrying the open after %s", self.name, exc)
                time.sleep(OPEN_RETRY_PAUSE_S)

    def initialise(self) -> None:
        """Device-specific start-up after the interface is claimed (default: nothing)."""

    def position_groups(self, positions: tuple[int, ...]) -> list[tuple[int, ...]]:
        """How the wanted positions are captured: one group per capture run. Default: one
        position per run (or one run without a position). A device that captures several at once
        (a dual iris camera) returns them as one group; the SDK then calls `frames` with
        `position=None` and each yielded item is a tuple of Samples, one per position."""
        return [(p,) for p in positions] or [()]

    @abstractmethod
    def frames(self, request: CaptureRequest, position: int | None,
               deadline: float) -> Iterator[Sample]:
        """Yield candidate samples until the caller stops iterating or `deadline` (time.monotonic)
        passes. Must never block past the deadline by more than one transfer timeout. (A driver
        whose `position_groups` groups positions yields a tuple of Samples per frame.)"""

    def close(self) -> None:
        """Release the interface and the device handle."""
        try:
            self.shutdown()
        except Exception:
            pass  # closing after an unplug: the device cannot be told anything any more
        finally:
            self.transport.close()

    def shutdown(self) -> None:
        """Device-specific wind-down before the interface is released (default: nothing)."""

    @staticmethod
    def remaining_ms(deadline: float, cap_ms: int) -> int:
        """Transfer timeout that never passes the deadline (at least 1 ms)."""
        return max(1, min(cap_ms, int((deadline - time.monotonic()) * 1000)))


class Presence(enum.Enum):
    """What a sensor reports while the driver waits for a presentation."""

    NONE = "none"
    READY = "ready"
    OFF_CENTRE = "off-centre"
    MOVING = "moving"


class ImageDriver(DeviceDriver):
    """A driver for an imaging sensor: the base class runs the capture loop, the driver supplies
    hooks (libfprint's image device: open/close, activate, await the finger, read a frame,
    convert it to an image).

    `frames()` does, for each call (one capture run of one position or position group):

        activate(request, position, deadline)            # e.g. arm the sensor (default: nothing)
        while before the deadline:
            wait for presence()  == READY                # polled every poll_interval_s
            frame = read_frame(deadline)                 # None: nothing came before the deadline
            yield to_samples(frame, request, position)   # default: one Sample of frame_image(frame)
        deactivate()                                     # always, errors ignored

    Presence is asked before every frame (`presence_per_frame`, a press sensor that must see the
    finger again) or once per run (a camera that streams frames once the subject is there). With
    `presence_window_s` set, a run that sees no presentation within that window raises the
    matching RetryableError (NoPresentation, CentreThePresentation, PresentationMoved) and the SDK
    retries; without it the driver waits until the deadline and `frames()` ends.
    """

    #: the sensor's native resolution (pixels per inch), with its source in the driver's docs
    ppi: ClassVar[float]
    #: (width, height) of a frame in pixels
    image_size: ClassVar[tuple[int, int]]
    #: the positions (ISO/IEC 19794 codes) the device can capture
    positions: ClassVar[tuple[int, ...]] = ()
    #: seconds between two presence polls
    poll_interval_s: ClassVar[float] = 0.05
    #: seconds a run waits for a presentation before raising (None: until the deadline)
    presence_window_s: ClassVar[float | None] = None
    #: ask for presence before every frame (True) or once per run (False)
    presence_per_frame: ClassVar[bool] = True

    @classmethod
    def describe(cls, usb_device: usb.core.Device, bus: UsbBus) -> DeviceInfo:
        return replace(super().describe(usb_device, bus), ppi=cls.ppi, image_size=cls.image_size,
                       positions=cls.positions)

    # --- the loop -------------------------------------------------------------------------------
    def frames(self, request: CaptureRequest, position: int | None,
               deadline: float) -> Iterator[Any]:
        self.activate(request, position, deadline)
        try:
            present = False
            while time.monotonic() < deadline:
                if self.presence_per_frame or not present:
                    present = self._await_presence(deadline)
                    if not present:
                        return
                frame = self.read_frame(deadline)
                if frame is None:
                    return
                yield self.to_samples(frame, request, position)
        finally:
            try:
                self.deactivate()
            except Exception:  # unplugged or timing out: nothing more to tell the device
                pass

    def _await_presence(self, deadline: float) -> bool:
        """Poll `presence()` until READY (True); at the end of the window raise the matching
        retryable error, or at the deadline (no window) return False."""
        window = self.presence_window_s
        end = deadline if window is None else min(deadline, time.monotonic() + window)
        while True:
            state = self.presence(deadline)
            if state is Presence.READY:
                return True
            now = time.monotonic()
            if now >= end:
                break
            time.sleep(max(0.0, min(self.poll_interval_s, end - now)))
            if time.monotonic() >= deadline:
                break
        if window is None:
            return False
        if state is Presence.OFF_CENTRE:
            raise CentreThePresentation(f"{self.name}: the presentation is off-centre")
        if state is Presence.MOVING:
            raise PresentationMoved(f"{self.name}: the presentation keeps moving")
        raise NoPresentation(f"{self.name}: nothing presented to the sensor")

    # --- hooks ----------------------------------------------------------------------------------
    def activate(self, request: CaptureRequest, position: int | None, deadline: float) -> None:
        """Start a capture run (e.g. arm the sensor for `position`). Default: nothing."""

    def deactivate(self) -> None:
        """End a capture run, also after an error (errors here are ignored). Default: nothing."""

    def presence(self, deadline: float) -> Presence:
        """Is something presented? Default: READY (a sensor whose frame read waits for the
        finger itself; see `read_when_ready`)."""
        return Presence.READY

    @abstractmethod
    def read_frame(self, deadline: float) -> Any:
        """Read one frame (raw bytes, a decoded structure...); None when nothing came before the
        deadline. Cut every transfer's timeout to the deadline (`remaining_ms`)."""

    def frame_image(self, frame: Any) -> Any:
        """Turn a frame into the image (2-D uint8). Default: the frame is the image."""
        return frame

    def to_samples(self, frame: Any, request: CaptureRequest, position: int | None) -> Any:
        """The Sample (or, for a position group, the tuple of Samples) of one frame. Default: one
        Sample of `frame_image(frame)` at the driver's ppi."""
        return self.make_sample(self.frame_image(frame), self.sample_position(position),
                                metadata={"driver": self.name})

    # --- services -------------------------------------------------------------------------------
    def sample_position(self, position: int | None) -> Position:
        """The Sample's position for a requested one: a finger code for fingerprints (UNKNOWN
        when none was asked for), nothing for the other modalities."""
        if self.modality is Modality.FINGERPRINT:
            return FingerPosition(position) if position is not None else FingerPosition.UNKNOWN
        return None

    def make_sample(self, image: Any, position: Position, *, ppi: float | None = None,
                    **fields: Any) -> Sample:
        """A Sample from this device: its modality, resolution and DeviceInfo filled in."""
        return Sample(image=image, ppi=self.ppi if ppi is None else ppi, modality=self.modality,
                      position=position, device=getattr(self, "info", None), **fields)

    def read_when_ready(self, endpoint: int, size: int, deadline: float,
                        slice_ms: int) -> bytes | None:
        """A read the device answers only once a finger is present: issued in slices of
        `slice_ms`, each cut to the deadline, a slice's timeout meaning "not yet". None at the
        deadline."""
        while time.monotonic() < deadline:
            try:
                return self.transport.read(endpoint, size, self.remaining_ms(deadline, slice_ms))
            except TransferTimeout:
                continue
        return None

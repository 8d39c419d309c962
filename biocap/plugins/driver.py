"""The base class every device driver plugin derives from."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar, Iterator

import usb.core

from ..types import CaptureRequest, DeviceInfo, Modality, Sample
from .usb import UsbBus, UsbTransport, read_string


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
        """Claim the interface and initialise the device; return its DeviceInfo."""
        self.transport.open()
        try:
            self.initialise()
        except BaseException:
            self.transport.close()
            raise
        self.info = self.describe(self.usb_device, self.bus)
        return self.info

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

"""USB over pyusb: buses (libusb, emulated, recorded), enumeration, and a transport for drivers.

A driver talks to its device only through `UsbTransport`, which is plain pyusb underneath, so the
same driver runs on a real bus, on an emulated one and against a recording.
"""
from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import Iterator

import usb.core
import usb.util

from ..errors import (AccessDenied, BiocapError, DeviceBusy, DeviceDisconnected, ProtocolError,
                      TransferTimeout)

log = logging.getLogger("biocap.usb")


@dataclass
class UsbBus:
    """A named pyusb backend: `libusb` for the real bus, or one a plugin contributes."""

    name: str
    backend: object  # usb.backend.IBackend

    def find_all(self) -> Iterator[usb.core.Device]:
        """Every USB device on this bus (pyusb device objects)."""
        yield from usb.core.find(find_all=True, backend=self.backend)


def system_bus() -> UsbBus | None:
    """The machine's real USB bus through libusb, if a libusb can be found (else None)."""
    try:
        import usb.backend.libusb1 as libusb1
        try:
            import libusb_package  # ships libusb for pyusb where the OS has none
            backend = libusb1.get_backend(find_library=libusb_package.find_library)
        except ImportError:
            backend = libusb1.get_backend()
    except Exception as exc:  # pragma: no cover - depends on the machine
        log.info("no libusb backend: %s", exc)
        return None
    if backend is None:
        return None
    return UsbBus("libusb", backend)


def map_usb_error(exc: usb.core.USBError, what: str) -> BiocapError:
    """Translate a pyusb error into the biocap error an app can act on."""
    code = getattr(exc, "backend_error_code", None)
    err = getattr(exc, "errno", None)
    if isinstance(exc, usb.core.USBTimeoutError) or err == errno.ETIMEDOUT or code == -7:
        return TransferTimeout(f"{what}: the device did not answer in time")
    if err == errno.ENODEV or code == -4:
        return DeviceDisconnected(f"{what}: the device is gone (unplugged)")
    if err == errno.EBUSY or code == -6:
        return DeviceBusy(f"{what}: the device or its interface is busy")
    if err == errno.EACCES or code == -3:
        return AccessDenied(f"{what}: permission denied")
    if err == errno.EPIPE or code == -9:
        return ProtocolError(f"{what}: the endpoint stalled (the device refused the request)")
    return ProtocolError(f"{what}: USB error {exc}")


class UsbTransport:
    """An opened, claimed USB interface. Always released on close, even after errors."""

    def __init__(self, device: usb.core.Device, interface: int = 0):
        self.device = device
        self.interface = interface
        self._claimed = False

    @property
    def is_open(self) -> bool:
        return self._claimed

    def open(self) -> None:
        """Claim the device's interface; returns the transport."""
        try:
            try:
                cfg = self.device.get_active_configuration()
            except usb.core.USBError:
                cfg = None
            if cfg is None:
                self.device.set_configuration()
            usb.util.claim_interface(self.device, self.interface)
            self._claimed = True
        except usb.core.USBError as exc:
            self._dispose()
            raise map_usb_error(exc, "opening the device") from exc

    def write(self, endpoint: int, data: bytes, timeout_ms: int) -> int:
        """Write `data` to an OUT endpoint; returns the bytes written."""
        try:
            return self.device.write(endpoint, data, timeout=timeout_ms)
        except usb.core.USBError as exc:
            raise map_usb_error(exc, f"writing {len(data)} bytes to endpoint {endpoint:#04x}") from exc

    def read(self, endpoint: int, size: int, timeout_ms: int) -> bytes:
        """Read up to `size` bytes from an IN endpoint."""
        try:
            return bytes(self.device.read(endpoint, size, timeout=timeout_ms))
        except usb.core.USBError as exc:
            raise map_usb_error(exc, f"reading {size} bytes from endpoint {endpoint:#04x}") from exc

    def control(self, request_type: int, request: int, value: int = 0, index: int = 0,
                data_or_length=None, timeout_ms: int = 1000):
        """A control transfer on endpoint 0."""
        try:
            return self.device.ctrl_transfer(request_type, request, value, index, data_or_length,
                                             timeout=timeout_ms)
        except usb.core.USBError as exc:
            raise map_usb_error(exc, f"control request {request:#04x}") from exc

    def close(self) -> None:
        """Release the interface and dispose of the device's resources."""
        if self._claimed:
            try:
                usb.util.release_interface(self.device, self.interface)
            except usb.core.USBError as exc:  # unplugged: nothing left to release
                log.debug("release_interface: %s", exc)
            self._claimed = False
        self._dispose()

    def _dispose(self) -> None:
        try:
            usb.util.dispose_resources(self.device)
        except usb.core.USBError as exc:
            log.debug("dispose_resources: %s", exc)

    def __enter__(self) -> "UsbTransport":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_string(device: usb.core.Device, index: int) -> str:
    """A string descriptor, or '' when the device has none or will not say."""
    if not index:
        return ""
    try:
        return usb.util.get_string(device, index) or ""
    except (usb.core.USBError, ValueError, NotImplementedError) as exc:
        log.debug("string descriptor %d: %s", index, exc)
        return ""

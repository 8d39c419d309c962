"""Record a USB session in umockdev's format, from any pyusb backend (a real bus or the simulator).

    tap = RecordingTap(backend)                        # passes everything through, notes transfers
    bus = UsbBus("recorded", tap)
    ... drive the device through `bus` with any driver ...
    tap.save(folder, device)                           # folder/device + folder/capture.ioctl

or in one call, `record_session(bus, folder, action)`.

`open_recording(folder)` replays what was saved, so a vendor (or a test) without the hardware or
the project's research data gets a recording of their own: the simulator's sensors recorded this
way stand in for the NB-1010 recording of `docs/writing-a-driver.md`.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import usb.backend

from .model import BULK, CONTROL, INTERRUPT, RecordingFormatError

#: pyusb backend calls the tap forwards unchanged (everything but the transfers it notes)
_PASSTHROUGH = ("enumerate_devices", "get_parent", "get_device_descriptor",
                "get_configuration_descriptor", "get_interface_descriptor",
                "get_endpoint_descriptor", "open_device", "close_device", "set_configuration",
                "get_configuration", "set_interface_altsetting", "claim_interface",
                "release_interface", "clear_halt", "reset_device", "is_kernel_driver_active",
                "detach_kernel_driver", "attach_kernel_driver")
#: (bmRequestType, bRequest) of GET_DESCRIPTOR: the host's enumeration, not the driver's protocol
_GET_DESCRIPTOR = (0x80, 0x06)


class RecordingTap(usb.backend.IBackend):
    """A pyusb backend around another one that notes every completed transfer, in order."""

    def __init__(self, inner: Any):
        super().__init__()
        self.inner = inner
        self.lines: dict[int, list[str]] = {}   # id(backend device) -> its transfers, in order
        self._device_of: dict[int, int] = {}    # id(handle) -> id(backend device)
        self._lock = threading.Lock()
        for name in _PASSTHROUGH:
            if name != "open_device":
                setattr(self, name, getattr(inner, name))

    def open_device(self, dev):
        handle = self.inner.open_device(dev)
        with self._lock:
            self._device_of[id(handle)] = id(dev)
        return handle

    def _note(self, handle, kind: int, endpoint: int, buflen: int, data: bytes) -> None:
        line = f"USBDEVFS_REAPURBNDELAY 0 {kind} {endpoint} 0 0 {buflen} {len(data)} 0 {data.hex().upper()}"
        with self._lock:
            self.lines.setdefault(self._device_of.get(id(handle), 0), []).append(line)

    def bulk_write(self, handle, ep, intf, data, timeout):
        n = self.inner.bulk_write(handle, ep, intf, data, timeout)
        self._note(handle, BULK, ep, len(data), bytes(data[:n]))
        return n

    def bulk_read(self, handle, ep, intf, buff, timeout):
        n = self.inner.bulk_read(handle, ep, intf, buff, timeout)
        self._note(handle, BULK, ep | 0x80, len(buff), bytes(buff[:n]))
        return n

    def intr_write(self, handle, ep, intf, data, timeout):
        n = self.inner.intr_write(handle, ep, intf, data, timeout)
        self._note(handle, INTERRUPT, ep, len(data), bytes(data[:n]))
        return n

    def intr_read(self, handle, ep, intf, buff, timeout):
        n = self.inner.intr_read(handle, ep, intf, buff, timeout)
        self._note(handle, INTERRUPT, ep | 0x80, len(buff), bytes(buff[:n]))
        return n

    def ctrl_transfer(self, handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        result = self.inner.ctrl_transfer(handle, bmRequestType, bRequest, wValue, wIndex, data,
                                          timeout)
        if (bmRequestType, bRequest) == _GET_DESCRIPTOR:
            return result  # answered from the descriptors on replay
        length = len(data) if data is not None else 0
        setup = bytes([bmRequestType, bRequest, wValue & 0xFF, wValue >> 8, wIndex & 0xFF,
                       wIndex >> 8, length & 0xFF, length >> 8])
        if bmRequestType & 0x80:  # IN: `result` bytes were read into `data`
            payload = bytes(data[:result]) if data is not None else b""
            self._note(handle, CONTROL, 0x80, 8 + length, setup + payload)
        else:
            payload = bytes(data or b"")
            self._note(handle, CONTROL, 0x00, 8 + length, setup + payload)
        return result

    # --- writing the recording ------------------------------------------------------------------
    def save(self, folder: str | Path, device: Any, *, busnum: int = 1, devnum: int = 2) -> Path:
        """Write `device` (umockdev dump: descriptors and strings of the pyusb `device`) and
        `capture.ioctl` (that device's noted transfers) into `folder`; files are 0600 (a capture
        may hold a person's biometric data). Returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            lines = list(self.lines.get(id(device._ctx.dev), ()))
        if not lines:
            raise RecordingFormatError("nothing was recorded: drive the device through the tap's "
                                       "bus before saving")
        _write_private(folder / "device", device_dump(device, busnum=busnum, devnum=devnum))
        _write_private(folder / "capture.ioctl",
                       f"@DEV /dev/bus/usb/{busnum:03d}/{devnum:03d}\n" + "\n".join(lines) + "\n")
        return folder


def record_session(bus, folder: str | Path, action, *, match=None) -> Path:
    """Run `action(tapped_bus)` on a tap over `bus`, then save the session of the device it
    used (or the first device `match(pyusb_device)` accepts) as a recording in `folder`."""
    from ..usb import UsbBus

    tap = RecordingTap(bus.backend)
    tapped = UsbBus(bus.name, tap)
    action(tapped)
    for device in tapped.find_all():
        used = tap.lines.get(id(device._ctx.dev))
        if (match is None and used) or (match is not None and match(device)):
            return tap.save(folder, device)
    raise RecordingFormatError("the session used no device of the bus: nothing to record")


def device_dump(device: Any, *, busnum: int, devnum: int) -> str:
    """The umockdev `device` block of a pyusb device: raw descriptors and its strings."""
    import usb.util

    raw = bytes(device.ctrl_transfer(0x80, 0x06, 0x0100, 0, 18))
    config = bytes(device.ctrl_transfer(0x80, 0x06, 0x0200, 0, 9))
    total = config[2] | (config[3] << 8)
    raw += bytes(device.ctrl_transfer(0x80, 0x06, 0x0200, 0, total))

    def text(index: int) -> str:
        if not index:
            return ""
        try:
            return usb.util.get_string(device, index) or ""
        except (usb.core.USBError, ValueError):
            return ""

    hex_descriptors = raw.hex().upper()
    attributes = {"idVendor": f"{device.idVendor:04x}", "idProduct": f"{device.idProduct:04x}",
                  "manufacturer": text(device.iManufacturer), "product": text(device.iProduct),
                  "serial": text(device.iSerialNumber), "busnum": str(busnum),
                  "devnum": str(devnum), "speed": "12"}
    lines = [f"P: /devices/biocap-recorded/usb{busnum}/{busnum}-{devnum}",
             f"N: bus/usb/{busnum:03d}/{devnum:03d}={hex_descriptors}",
             f"E: DEVNAME=/dev/bus/usb/{busnum:03d}/{devnum:03d}", "E: DEVTYPE=usb_device",
             f"E: BUSNUM={busnum:03d}", f"E: DEVNUM={devnum:03d}", "E: SUBSYSTEM=usb"]
    lines += [f"A: {k}={_escape(v)}" for k, v in attributes.items()]
    lines.append(f"H: descriptors={hex_descriptors}")
    return "\n".join(lines) + "\n\n"


def _escape(value: str) -> str:
    """udev's escaping of a value on an `A:` line (non-printable and non-ASCII bytes as \\xNN)."""
    out = []
    for b in value.encode("utf-8"):
        out.append(chr(b) if 0x20 < b < 0x7F and b != 0x5C else f"\\x{b:02x}")
    return "".join(out)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)

"""umockdev ioctl trees (`*.ioctl`): one line per reaped URB, indented by dependency depth.

Line format: `<indent>USBDEVFS_REAPURBNDELAY <ret> <type> <endpoint> <status> <flags>
<buffer_length> <actual_length> <error_count> <hex data>`. The file order is the order the host
reaped the URBs in, which is the order a synchronous driver re-issues them.
"""
from __future__ import annotations

import re
from pathlib import Path

from .model import CONTROL, HOST_REQUESTS, ISO, RecordedTransfer, RecordingFormatError, Setup

MAX_IOCTL_BYTES = 256 * 1024 * 1024
_DEV_LINE = re.compile(r"^@DEV\s+/dev/bus/usb/(\d{3})/(\d{3})\s*$")
# ioctls that move no data, or that pyusb turns into dedicated backend calls: nothing to replay
_IGNORED = ("USBDEVFS_GET_CAPABILITIES", "USBDEVFS_CLAIMINTERFACE", "USBDEVFS_RELEASEINTERFACE",
            "USBDEVFS_SETINTERFACE", "USBDEVFS_SETCONFIGURATION", "USBDEVFS_CLEAR_HALT",
            "USBDEVFS_RESET", "USBDEVFS_DISCARDURB", "USBDEVFS_GETDRIVER", "USBDEVFS_IOCTL",
            "USBDEVFS_CONNECTINFO", "USBDEVFS_DISCONNECT_CLAIM")


def read_ioctl_file(path: Path) -> tuple[tuple[int, int] | None, list[RecordedTransfer]]:
    """((bus, dev) from the `@DEV` line or None, transfers in reap order)."""
    try:
        if path.stat().st_size > MAX_IOCTL_BYTES:
            raise RecordingFormatError(f"{path} is larger than {MAX_IOCTL_BYTES} bytes")
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        raise RecordingFormatError(f"cannot read the ioctl recording {path}: {exc}") from exc
    where: tuple[int, int] | None = None
    transfers: list[RecordedTransfer] = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        m = _DEV_LINE.match(stripped)
        if m:
            where = (int(m.group(1)), int(m.group(2)))
            continue
        name = stripped.split(None, 1)[0]
        if name == "USBDEVFS_REAPURBNDELAY" or name == "USBDEVFS_REAPURB":
            urb = _parse_urb(stripped, f"{path.name} line {number}")
            if urb.setup is None or (urb.setup.request_type, urb.setup.request) not in HOST_REQUESTS:
                transfers.append(urb)
        elif name.startswith("USBDEVFS_") and name not in _IGNORED:
            raise RecordingFormatError(f"{path.name} line {number}: {name} is not supported by the "
                                       "replay (only asynchronous URBs are)")
        elif not name.startswith("USBDEVFS_") and not name.startswith("@"):
            raise RecordingFormatError(f"{path.name} line {number}: not an ioctl line: {line[:60]!r}")
    return where, transfers


def _parse_urb(line: str, source: str) -> RecordedTransfer:
    fields = line.split()
    if len(fields) not in (9, 10):
        raise RecordingFormatError(f"{source}: expected 9 fields and hex data, got {len(fields)} fields")
    try:
        _ret, kind, endpoint, status, _flags, buflen, actual, _errors = (int(f) for f in fields[1:9])
        data = bytes.fromhex(fields[9]) if len(fields) == 10 else b""
    except ValueError as exc:
        raise RecordingFormatError(f"{source}: {exc}") from exc
    if kind == ISO:
        raise RecordingFormatError(f"{source}: isochronous transfers are not supported by the replay")
    if not 1 <= kind <= 3 or not 0 <= endpoint <= 0xFF or buflen < 0 or actual < 0:
        raise RecordingFormatError(f"{source}: type {kind} / endpoint {endpoint} / lengths "
                                   f"{buflen},{actual} are out of range")
    if kind == CONTROL:
        setup = Setup.from_bytes(data[:8])
        payload = data[8:]
        if setup.is_in:
            payload = payload[:actual]
        else:
            payload = payload[:setup.length]
        return RecordedTransfer(CONTROL, 0x80 if setup.is_in else 0x00, payload, status,
                                setup.length, setup, source)
    if endpoint & 0x80:
        if len(data) < min(actual, buflen):
            raise RecordingFormatError(f"{source}: {actual} bytes were received but only "
                                       f"{len(data)} are recorded")
        return RecordedTransfer(kind, endpoint, data[:actual], status, buflen, None, source)
    return RecordedTransfer(kind, endpoint, data[:buflen], status, buflen, None, source)

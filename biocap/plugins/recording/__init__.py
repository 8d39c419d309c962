"""Replay of recorded USB sessions as a pyusb bus of its own.

    bus = open_recording("../shared/data/usb/nb1010")    # folder: `device` + `*.ioctl` / `*.pcapng`
    dev = next(bus.find_all())                            # a pyusb Device, descriptors as recorded
    ...                                                   # drive it with any pyusb code
    assert_consumed(bus)                                  # every recorded transfer was re-issued

Formats: umockdev (`device` dump + ioctl tree) and Linux usbmon pcapng captures (with the
`device` dump of the same device beside them, to know its descriptors and bus/device numbers).
"""
from __future__ import annotations

from pathlib import Path

from ..usb import UsbBus
from .backend import ReplayBackend
from .descriptors import read_device_file
from .model import (RecordedTransfer, Recording, RecordingFormatError, RecordingMismatch,
                    RecordingNotConsumed)
from .umockdev import read_ioctl_file
from .usbmon import read_pcapng

__all__ = ["open_recording", "load_recording", "assert_consumed", "replay_backend",
           "ReplayBackend", "Recording", "RecordedTransfer", "RecordingFormatError",
           "RecordingMismatch", "RecordingNotConsumed"]


def load_recording(path: str | Path) -> Recording:
    """Read the recording in folder `path` (or a `.ioctl` / `.pcapng` file next to `device`)."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise RecordingFormatError(f"a recording path must be a folder name, got {path!r}")
    path = Path(path)
    if not path.exists():
        raise RecordingFormatError(f"recording {path} does not exist")
    folder = path if path.is_dir() else path.parent
    device_file = folder / "device"
    if not device_file.is_file():
        raise RecordingFormatError(f"{folder} has no umockdev `device` file describing the device")
    if path.is_file():
        captures = [path]
    else:
        captures = sorted(folder.glob("*.ioctl")) or sorted(folder.glob("*.pcapng"))
    if len(captures) != 1:
        found = ", ".join(p.name for p in captures) or "none"
        raise RecordingFormatError(f"{folder} must hold exactly one `*.ioctl` or `*.pcapng` "
                                   f"capture (found {found}); pass the file itself to choose")
    capture = captures[0]
    if capture.suffix == ".ioctl":
        where, transfers = read_ioctl_file(capture)
        if where is None:
            device = read_device_file(device_file)
        else:
            device = read_device_file(device_file, busnum=where[0], devnum=where[1])
    elif capture.suffix == ".pcapng":
        device = read_device_file(device_file)  # the first block is the recorded device itself
        transfers = read_pcapng(capture, device.busnum, device.devnum)
        if not transfers:
            raise RecordingFormatError(
                f"{capture.name} holds no transfer of bus {device.busnum:03d} device "
                f"{device.devnum:03d} (the device named in {device_file})")
    else:
        raise RecordingFormatError(f"{capture.name}: expected a `.ioctl` or `.pcapng` capture")
    return Recording(device=device, transfers=transfers, source=str(capture))


def open_recording(path: str | Path, *, name: str = "recording") -> UsbBus:
    """A `UsbBus` whose only device replays the recording in folder `path`."""
    return UsbBus(name, ReplayBackend(load_recording(path)))


def replay_backend(bus: UsbBus) -> ReplayBackend:
    """The replay behind a bus from `open_recording` (also through a fault-injecting wrapper)."""
    backend = bus.backend
    while not isinstance(backend, ReplayBackend):
        inner = getattr(backend, "inner", None)
        if inner is None:
            raise TypeError(f"bus {bus.name!r} does not replay a recording")
        backend = inner
    return backend


def assert_consumed(bus: UsbBus) -> None:
    """Raise `RecordingNotConsumed` unless every recorded transfer was re-issued."""
    replay_backend(bus).assert_consumed()

"""Small, valid USB recordings built in code (no shared data): a umockdev `device` file, a usbmon
pcapng capture and a umockdev ioctl tree of the same short session. Used by the hostile tests and
by benchmarks/bench_mutation.py as the seeds that are mutated."""
from __future__ import annotations

import struct
from pathlib import Path

# NB-1010 descriptors: interrupt IN 0x81, bulk OUT 0x02, bulk IN 0x83
DESCRIPTORS = bytes.fromhex(
    "12010002000000408D29101001000102000109022700010100A032090400000300000000070581034000050705"
    "020240000007058302400000")
BUS, DEV = 1, 3
COMMAND = bytes.fromhex("a5 01 00 04")
ANSWER = bytes(range(16))
# (transfer type, endpoint, data): a command on bulk OUT 0x02 and its answer on bulk IN 0x83
SESSION = ((3, 0x02, COMMAND), (3, 0x83, ANSWER), (3, 0x02, COMMAND[::-1]), (3, 0x83, ANSWER[::-1]))


def device_file(descriptors: bytes = DESCRIPTORS) -> str:
    return (f"P: /devices/pci0000:00/usb1/1-7\nN: bus/usb/{BUS:03d}/{DEV:03d}={descriptors.hex().upper()}\n"
            f"E: BUSNUM={BUS:03d}\nE: DEVNUM={DEV:03d}\nE: ID_VENDOR=NEXT_Biometrics\n"
            "A: manufacturer=NEXT Biometrics\nA: product=NB-1010-U\nA: speed=480\n")


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def _usbmon(urb: int, event: str, kind: int, ep: int, status: int, length: int,
            data: bytes) -> bytes:
    head = struct.pack("<QBBBBHbbqiiII8s", urb, ord(event), kind, ep, DEV, BUS, ord("-"),
                       0 if data else ord("<"), 0, 0, status, length, len(data), b"\x00" * 8)
    return head + b"\x00" * 16 + data  # link type 220: 64-byte header


def pcapng_bytes(session=SESSION) -> bytes:
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += _block(1, struct.pack("<HHI", 220, 0, 65535))
    urb = 0x1000
    for kind, ep, data in session:
        urb += 1
        if ep & 0x80:
            packets = [_usbmon(urb, "S", kind, ep, -115, 64, b""), _usbmon(urb, "C", kind, ep, 0, len(data), data)]
        else:
            packets = [_usbmon(urb, "S", kind, ep, -115, len(data), data), _usbmon(urb, "C", kind, ep, 0, len(data), b"")]
        for pkt in packets:
            out += _block(6, struct.pack("<IIIII", 0, 0, 0, len(pkt), len(pkt)) + pkt)
    return out


def ioctl_text(session=SESSION) -> str:
    lines = [f"@DEV /dev/bus/usb/{BUS:03d}/{DEV:03d}"]
    for kind, ep, data in session:
        buflen = 64 if ep & 0x80 else len(data)
        lines.append(f"USBDEVFS_REAPURBNDELAY 0 {kind} {ep} 0 0 {buflen} {len(data)} 0 {data.hex()}")
    return "\n".join(lines) + "\n"


def write_recording(folder: Path, kind: str = "pcapng", *, descriptors: bytes = DESCRIPTORS,
                    capture: bytes | None = None, device: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "device").write_text(device if device is not None else device_file(descriptors))
    if kind == "pcapng":
        (folder / "capture.pcapng").write_bytes(capture if capture is not None else pcapng_bytes())
    else:
        (folder / "capture.ioctl").write_bytes(capture if capture is not None else ioctl_text().encode())
    return folder


def replay_session(bus) -> list[bytes]:
    """Drive the recorded session through biocap's UsbTransport; the bytes read back."""
    from biocap.plugins.usb import UsbTransport

    dev = next(bus.find_all())
    transport = UsbTransport(dev, 0)
    transport.open()
    got = []
    try:
        for _kind, ep, data in SESSION:
            if ep & 0x80:
                got.append(transport.read(ep, 64, 50))
            else:
                transport.write(ep, data, 50)
    finally:
        transport.close()
    return got

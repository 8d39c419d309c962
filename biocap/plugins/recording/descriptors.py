"""USB descriptors from raw bytes, and the umockdev `device` file that holds them.

pyusb reads descriptor fields as attributes of whatever objects the backend returns, so plain
namespaces are enough; the bytes themselves are also kept to answer GET_DESCRIPTOR requests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from .model import DeviceRecord, RecordingFormatError

DEVICE, CONFIGURATION, STRING, INTERFACE, ENDPOINT = 1, 2, 3, 4, 5
MAX_DEVICE_FILE_BYTES = 8 * 1024 * 1024


@dataclass
class ConfigTree:
    raw: bytes
    desc: SimpleNamespace
    # interfaces[i][a] = (interface descriptor, [endpoint descriptors]) by logical index
    interfaces: list[list[tuple[SimpleNamespace, list[SimpleNamespace]]]] = field(default_factory=list)


@dataclass
class DescriptorSet:
    raw_device: bytes
    device: SimpleNamespace
    configurations: list[ConfigTree]


def _u16(raw: bytes, at: int) -> int:
    return raw[at] | (raw[at + 1] << 8)


def parse_descriptors(raw: bytes) -> DescriptorSet:
    """Split a device descriptor followed by its configuration descriptors into a tree."""
    if len(raw) < 18 or raw[0] != 18 or raw[1] != DEVICE:
        raise RecordingFormatError(f"descriptors must start with an 18-byte device descriptor, "
                                   f"got {raw[:2].hex() or 'nothing'}")
    device = SimpleNamespace(
        bLength=18, bDescriptorType=DEVICE, bcdUSB=_u16(raw, 2), bDeviceClass=raw[4],
        bDeviceSubClass=raw[5], bDeviceProtocol=raw[6], bMaxPacketSize0=raw[7],
        idVendor=_u16(raw, 8), idProduct=_u16(raw, 10), bcdDevice=_u16(raw, 12),
        iManufacturer=raw[14], iProduct=raw[15], iSerialNumber=raw[16],
        bNumConfigurations=raw[17])
    configs: list[ConfigTree] = []
    pos = 18
    while pos < len(raw):
        if len(raw) - pos < 9 or raw[pos + 1] != CONFIGURATION:
            raise RecordingFormatError(f"expected a configuration descriptor at byte {pos}, "
                                       f"got {raw[pos:pos + 2].hex()}")
        total = _u16(raw, pos + 2)
        if total < 9 or pos + total > len(raw):
            raise RecordingFormatError(f"configuration at byte {pos} claims {total} bytes, "
                                       f"{len(raw) - pos} are left")
        configs.append(_parse_configuration(raw[pos:pos + total], pos))
        pos += total
    if not configs:
        raise RecordingFormatError("the recording holds no configuration descriptor")
    return DescriptorSet(raw[:18], device, configs)


def _parse_configuration(raw: bytes, offset: int) -> ConfigTree:
    cfg = SimpleNamespace(
        bLength=raw[0], bDescriptorType=CONFIGURATION, wTotalLength=_u16(raw, 2),
        bNumInterfaces=raw[4], bConfigurationValue=raw[5], iConfiguration=raw[6],
        bmAttributes=raw[7], bMaxPower=raw[8], extra_descriptors=[])
    tree = ConfigTree(raw, cfg)
    numbers: list[int] = []   # bInterfaceNumber in order of first appearance = logical index
    owner = cfg               # the descriptor that unknown (class) descriptors belong to
    current_eps: list[SimpleNamespace] | None = None
    pos = raw[0]
    while pos < len(raw):
        length = raw[pos]
        if length < 2 or pos + length > len(raw):
            raise RecordingFormatError(f"descriptor at byte {offset + pos} has a bad length {length}")
        kind, body = raw[pos + 1], raw[pos:pos + length]
        if kind == INTERFACE and length >= 9:
            intf = SimpleNamespace(
                bLength=length, bDescriptorType=INTERFACE, bInterfaceNumber=body[2],
                bAlternateSetting=body[3], bNumEndpoints=body[4], bInterfaceClass=body[5],
                bInterfaceSubClass=body[6], bInterfaceProtocol=body[7], iInterface=body[8],
                extra_descriptors=[])
            if body[2] not in numbers:
                numbers.append(body[2])
                tree.interfaces.append([])
            current_eps = []
            tree.interfaces[numbers.index(body[2])].append((intf, current_eps))
            owner = intf
        elif kind == ENDPOINT and length >= 7:
            if current_eps is None:
                raise RecordingFormatError(f"endpoint descriptor at byte {offset + pos} comes "
                                           "before any interface")
            ep = SimpleNamespace(
                bLength=length, bDescriptorType=ENDPOINT, bEndpointAddress=body[2],
                bmAttributes=body[3], wMaxPacketSize=_u16(body, 4), bInterval=body[6],
                bRefresh=body[7] if length > 7 else 0,
                bSynchAddress=body[8] if length > 8 else 0, extra_descriptors=[])
            current_eps.append(ep)
            owner = ep
        else:
            owner.extra_descriptors.extend(body)
        pos += length
    return tree


# --- the umockdev `device` file -------------------------------------------------------------------
_N_LINE = re.compile(r"^N: bus/usb/(\d{3})/(\d{3})=([0-9A-Fa-f]*)\s*$")


def _unescape(value: str) -> str:
    """udev escapes (`\\x20`) and umockdev's literal trailing `\\n`."""
    if value.endswith("\\n"):
        value = value[:-2]
    # escapes stand for bytes of UTF-8 text: hex (`\x20`, udev) or octal (`\302`, sysfs dumps)
    out = bytearray()
    for part in re.split(r"(\\x[0-9A-Fa-f]{2}|\\[0-3][0-7]{2})", value):
        if part.startswith("\\x") and len(part) == 4:
            out.append(int(part[2:], 16))
        elif part.startswith("\\") and len(part) == 4:
            out.append(int(part[1:], 8))
        else:
            out += part.encode("utf-8")
    return out.decode("utf-8", errors="replace")


def read_device_file(path: Path, *, busnum: int | None = None,
                     devnum: int | None = None) -> DeviceRecord:
    """The device block of a umockdev dump: the one at bus/dev if given, else the first one."""
    try:
        if path.stat().st_size > MAX_DEVICE_FILE_BYTES:
            raise RecordingFormatError(f"{path} is larger than {MAX_DEVICE_FILE_BYTES} bytes; "
                                       "it is not a umockdev device dump")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RecordingFormatError(f"cannot read the device description {path}: {exc}") from exc
    for block in re.split(r"\n\s*\n", text):
        record = _parse_block(block)
        if record is None:
            continue
        if busnum is not None and (record.busnum, record.devnum) != (busnum, devnum):
            continue
        return record
    where = f" for bus {busnum:03d} device {devnum:03d}" if busnum is not None else ""
    raise RecordingFormatError(f"{path} has no `N: bus/usb/BBB/DDD=<hex>` descriptor line{where}")


def _parse_block(block: str) -> DeviceRecord | None:
    found = None
    props: dict[str, str] = {}
    attrs: dict[str, str] = {}
    for line in block.splitlines():
        m = _N_LINE.match(line)
        if m and found is None:
            hexdata = m.group(3)
            if len(hexdata) % 2:
                raise RecordingFormatError(f"odd number of hex digits in {line[:60]!r}")
            found = (int(m.group(1)), int(m.group(2)), bytes.fromhex(hexdata))
        elif line.startswith("E: ") and "=" in line:
            key, _, value = line[3:].partition("=")
            props.setdefault(key, _unescape(value))
        elif line.startswith("A: ") and "=" in line:
            key, _, value = line[3:].partition("=")
            attrs.setdefault(key, _unescape(value))
    if found is None or not found[2]:
        return None
    speed = None
    try:
        speed = float(attrs.get("speed", "")) if attrs.get("speed") else None
    except ValueError:
        speed = None
    return DeviceRecord(descriptors=found[2], busnum=found[0], devnum=found[1],
                        properties=props, attributes=attrs, speed_mbps=speed)


def strings_for(record: DeviceRecord, device: SimpleNamespace) -> dict[int, str]:
    """String descriptors by index, from sysfs attributes or udev properties (never recorded)."""
    a, p = record.attributes, record.properties
    candidates = {
        device.iManufacturer: a.get("manufacturer") or p.get("ID_VENDOR_ENC") or p.get("ID_VENDOR"),
        device.iProduct: a.get("product") or p.get("ID_MODEL_ENC") or p.get("ID_MODEL"),
        device.iSerialNumber: a.get("serial") or p.get("ID_SERIAL_SHORT"),
    }
    return {index: text.strip() for index, text in candidates.items() if index and text}


def string_descriptor(text: str) -> bytes:
    body = text.encode("utf-16-le")[:252]
    return bytes([len(body) + 2, STRING]) + body

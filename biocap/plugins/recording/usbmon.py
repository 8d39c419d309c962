"""Linux usbmon captures in pcapng (link types 220 and 189), read with python-pcapng.

Each URB appears twice: at submission ('S', carrying OUT data and the SETUP packet) and at
completion ('C', carrying IN data and the status). Transfers are listed in completion order, the
order a synchronous re-issue meets them. The host's own enumeration (GET_DESCRIPTOR) and the
requests pyusb makes through dedicated backend calls (SET_CONFIGURATION, SET_INTERFACE) are left
out: the replay answers those from the descriptors.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

from pcapng import FileScanner, blocks
from pcapng.exceptions import PcapngException

from .model import CONTROL, HOST_REQUESTS, ISO, RecordedTransfer, RecordingFormatError, Setup

LINKTYPE_USB_LINUX = 189          # 48-byte header
LINKTYPE_USB_LINUX_MMAPPED = 220  # 64-byte header
_HEADER = struct.Struct("<QBBBBHbbqiiII8s")  # the first 48 bytes, common to both link types
MAX_PCAPNG_BYTES = 1024 * 1024 * 1024
MAX_PENDING = 100_000  # submissions never completed; a bound against hostile files


def read_pcapng(path: Path, busnum: int, devnum: int) -> list[RecordedTransfer]:
    try:
        if path.stat().st_size > MAX_PCAPNG_BYTES:
            raise RecordingFormatError(f"{path} is larger than {MAX_PCAPNG_BYTES} bytes")
        with open(path, "rb") as stream, warnings.catch_warnings():
            # the block framing is checked first: python-pcapng reads whatever length a block
            # states (0xFFFFFFFF is a multi-GiB read), so no block may claim more than the file has
            check_block_framing(stream, path.name)
            stream.seek(0)
            # python-pcapng warns about its own option schemas on every file; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            return _scan(FileScanner(stream), path.name, busnum, devnum)
    except OSError as exc:
        raise RecordingFormatError(f"cannot read the capture {path}: {exc}") from exc
    except RecordingFormatError:
        raise
    except (PcapngException, ValueError, struct.error, TypeError, KeyError, IndexError,
            AttributeError, EOFError) as exc:
        # the parser's own complaints about a corrupt file, whatever their type
        raise RecordingFormatError(f"{path.name} is not a readable pcapng capture: "
                                   f"{type(exc).__name__}: {exc}") from exc


_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
MAX_BLOCK_BYTES = 16 * 1024 * 1024  # a usbmon packet is at most a few hundred KiB


def check_block_framing(stream, name: str) -> int:
    """Walk the pcapng blocks by their length fields only (reading 12 bytes of header and the
    4-byte trailer of each) and refuse any block whose length is not a multiple of 4, is under 12
    bytes, exceeds MAX_BLOCK_BYTES, runs past the end of the file, or disagrees with its trailing
    copy. Returns the number of blocks. Nothing is allocated from a length field."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    pos, order, count = 0, None, 0
    while pos < size:
        head = stream.read(12)
        if len(head) < 8:
            raise RecordingFormatError(f"{name}: {size - pos} stray bytes at offset {pos} after the "
                                       "last block")
        btype_le = struct.unpack_from("<I", head)[0]
        if btype_le == _SHB:
            if len(head) < 12:
                raise RecordingFormatError(f"{name}: section header at offset {pos} is truncated")
            magic_le = struct.unpack_from("<I", head, 8)[0]
            if magic_le == _BYTE_ORDER_MAGIC:
                order = "<"
            elif magic_le == 0x4D3C2B1A:
                order = ">"
            else:
                raise RecordingFormatError(f"{name}: section header at offset {pos} has no valid "
                                           "byte-order magic")
        elif order is None:
            raise RecordingFormatError(f"{name} does not start with a pcapng section header block")
        length = struct.unpack_from(order + "I", head, 4)[0]
        if length < 12 or length % 4 or length > MAX_BLOCK_BYTES or pos + length > size:
            raise RecordingFormatError(
                f"{name}: block at offset {pos} states length {length} (the file has {size - pos} "
                f"bytes left; a block is 12..{MAX_BLOCK_BYTES} bytes, a multiple of 4)")
        stream.seek(pos + length - 4)
        trailer = stream.read(4)
        if len(trailer) != 4 or struct.unpack(order + "I", trailer)[0] != length:
            raise RecordingFormatError(f"{name}: block at offset {pos} ends with a length that "
                                       f"differs from its header's {length}")
        pos += length
        count += 1
        stream.seek(pos)
    if count == 0:
        raise RecordingFormatError(f"{name} is empty")
    return count


def _scan(scanner: FileScanner, name: str, busnum: int, devnum: int) -> list[RecordedTransfer]:
    pending: dict[int, tuple[int, bytes, bytes]] = {}  # urb id -> (packet no., header, payload)
    transfers: list[RecordedTransfer] = []
    usb_interfaces = 0
    for number, block in enumerate(scanner, 1):
        if isinstance(block, blocks.InterfaceDescription):
            if block.link_type in (LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED):
                usb_interfaces += 1
            continue
        if not isinstance(block, blocks.EnhancedPacket):
            continue
        link = block.interface.link_type
        if link not in (LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED):
            continue
        header_len = 64 if link == LINKTYPE_USB_LINUX_MMAPPED else 48
        raw = bytes(block.packet_data)
        if len(raw) < header_len:
            raise RecordingFormatError(f"{name} packet {number}: {len(raw)} bytes, shorter than "
                                       f"the {header_len}-byte usbmon header")
        (urb, event, kind, epnum, dev, bus, flag_setup, _flag_data, _sec, _usec, status,
         length, captured, setup) = _HEADER.unpack_from(raw, 0)
        if (bus, dev) != (busnum, devnum):
            continue
        payload = raw[header_len:header_len + captured]
        if event == ord("S"):
            if len(pending) >= MAX_PENDING:
                raise RecordingFormatError(f"{name}: more than {MAX_PENDING} URBs never complete")
            pending[urb] = (number, raw[:header_len], payload)
            continue
        if event not in (ord("C"), ord("E")):
            continue
        submitted = pending.pop(urb, None)
        if submitted is None:
            continue  # completion of a URB submitted before the capture began
        source = f"{name} packet {submitted[0]}"
        if kind == ISO:
            raise RecordingFormatError(f"{source}: isochronous transfers are not supported")
        s_head = _HEADER.unpack_from(submitted[1], 0)
        is_in = bool(epnum & 0x80)
        if kind == CONTROL:
            if s_head[6] != 0:
                raise RecordingFormatError(f"{source}: control submission without a SETUP packet")
            parsed = Setup.from_bytes(s_head[13])
            if (parsed.request_type, parsed.request) in HOST_REQUESTS:
                continue
            is_in = parsed.is_in
        else:
            parsed = None
        if event == ord("E"):
            status = status or -71
        if is_in:
            if captured < length and status == 0:
                raise RecordingFormatError(f"{name} packet {number}: {length} bytes were received "
                                           f"but only {captured} were captured (raise the snaplen)")
            data = payload[:length]
            requested = s_head[11]
        else:
            data = submitted[2]
            requested = s_head[11]
            if len(data) < requested:
                raise RecordingFormatError(f"{source}: {requested} bytes were sent but only "
                                           f"{len(data)} were captured")
        endpoint = (0x80 if is_in else 0x00) if kind == CONTROL else epnum
        transfers.append(RecordedTransfer(kind, endpoint, bytes(data), status, requested,
                                          parsed, source))
    if usb_interfaces == 0:
        raise RecordingFormatError(f"{name} holds no usbmon interface (link type 220 or 189)")
    # URBs still pending at the end never completed: the driver was still waiting on them
    return transfers

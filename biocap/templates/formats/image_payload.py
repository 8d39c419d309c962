"""Compressed image payloads of interchange records, checked BEFORE they are decoded.

    info = payload_header(data, "png")              # PayloadHeader(kind, width, height, channels, bits)
    image = decode_payload(data, "png", width=640, height=480)   # 2-D uint8, or TemplateFormatError

A record's header states the image size; the compressed payload states its own. A hostile record
says 64x64 and carries a 20000x20000 PNG that inflates to hundreds of MB. So every codec that
holds a PNG, JPEG, JPEG-LS or JPEG 2000 image calls `decode_payload`, which reads the payload's
own header (PNG IHDR, JPEG SOFn, JPEG 2000 SIZ / JP2 ihdr) without decompressing anything, and
refuses the payload when its kind differs from the one the record declares, its size differs from
the record's, or its decoded size exceeds `MAX_DECODED_BYTES`. Only then is it decoded.
Face (ISO/IEC 19794-5) and ANSI/NIST-ITL image payloads use the same function.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ...errors import TemplateFormatError

#: decoded size (width x height x channels x bytes per sample) above which a payload is refused
#: before decoding: 64 MiB holds a 4096x4096 RGB 8-bit image, far above any biometric sample
MAX_DECODED_BYTES = 64 * 1024 * 1024
#: largest side accepted in a payload header (the same bound as biocap.types.MAX_IMAGE_SIDE)
MAX_SIDE = 8192

KINDS = ("png", "jpeg", "jpeg_ls", "jpeg2000")
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_JP2_SIG = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
# JPEG start-of-frame markers: C0-C3, C5-C7, C9-CB, CD-CF (C4 DHT, C8 JPG, CC DAC are not frames)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_SOF_LS = 0xF7


@dataclass(frozen=True)
class PayloadHeader:
    kind: str
    width: int
    height: int
    channels: int
    bits: int

    @property
    def decoded_bytes(self) -> int:
        return self.width * self.height * self.channels * max(1, (self.bits + 7) // 8)


def _fail(msg: str, hint: str | None = None) -> TemplateFormatError:
    return TemplateFormatError(msg, field="image data",
                               hint=hint or "the embedded image is damaged or does not match the record")


def sniff(data: bytes) -> str | None:
    """The payload kind from its first bytes, or None when it is none of KINDS."""
    if data[:8] == _PNG_SIG:
        return "png"
    if data[:12] == _JP2_SIG or data[:4] == _J2K_SOC_SIZ:
        return "jpeg2000"
    if data[:2] == b"\xff\xd8":
        head = _jpeg_frame(data, require=False)
        return "jpeg_ls" if head is not None and head[0] == _SOF_LS else "jpeg"
    return None


def _png(data: bytes) -> PayloadHeader:
    # signature (8), then the first chunk must be IHDR: length 13, type, width, height, depth, colour
    if len(data) < 8 + 8 + 13 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise _fail("PNG payload does not start with an IHDR chunk")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise _fail(f"PNG payload has colour type {colour} / bit depth {depth}, not defined by PNG")
    return PayloadHeader("png", width, height, channels, depth)


def _jpeg_frame(data: bytes, *, require: bool = True):
    """(marker, width, height, channels, bits) of the first frame header, walking marker segments."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            if require:
                raise _fail(f"JPEG payload has no marker at byte {pos} of the image")
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # segments without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            break
        seg_len = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if seg_len < 2:
            break
        if marker in _SOF or marker == _SOF_LS:
            if pos + 2 + 8 > n:
                break
            bits, height, width, comps = struct.unpack(">BHHB", data[pos + 4:pos + 10])
            return marker, width, height, comps, bits
        pos += 2 + seg_len
    if require:
        raise _fail("JPEG payload holds no frame header before its image data")
    return None


def _jpeg(data: bytes, kind: str) -> PayloadHeader:
    marker, width, height, comps, bits = _jpeg_frame(data)
    if height == 0:
        # the height would come later in a DNL marker: the size is unknown until decoded
        raise _fail("JPEG payload states height 0 (size defined later by DNL); refused")
    if comps not in (1, 3, 4) or not 2 <= bits <= 16:
        raise _fail(f"JPEG payload has {comps} components of {bits} bits")
    found = "jpeg_ls" if marker == _SOF_LS else "jpeg"
    return PayloadHeader(found, width, height, comps, bits)


def _siz(data: bytes, pos: int) -> PayloadHeader:
    # SOC (2) SIZ marker (2) Lsiz (2) Rsiz (2) Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz (4 each)
    # Csiz (2) then per component Ssiz (1) XRsiz (1) YRsiz (1)
    if data[pos:pos + 4] != _J2K_SOC_SIZ or pos + 4 + 38 + 3 > len(data):
        raise _fail("JPEG 2000 codestream does not start with SOC and SIZ")
    x, y, xo, yo = struct.unpack(">IIII", data[pos + 8:pos + 24])
    comps = struct.unpack(">H", data[pos + 40:pos + 42])[0]
    if x <= xo or y <= yo or comps == 0 or pos + 42 + 3 * comps > len(data):
        raise _fail(f"JPEG 2000 SIZ states an empty image or {comps} components")
    depths = [(data[pos + 42 + 3 * i] & 0x7F) + 1 for i in range(comps)]
    return PayloadHeader("jpeg2000", x - xo, y - yo, comps, max(depths))


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        length, box = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if length == 1:
            if pos + 16 > end:
                break
            length, head = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif length == 0:
            length = end - pos
        if length < head or pos + length > end:
            raise _fail(f"JPEG 2000 box {box!r} states length {length}, past the end of the image")
        yield box, pos + head, pos + length
        pos += length


def _jpeg2000(data: bytes) -> PayloadHeader:
    if data[:4] == _J2K_SOC_SIZ:
        return _siz(data, 0)
    ihdr = code = None
    for box, body, end in _boxes(data, 0, len(data)):
        if box == b"jp2h":
            for sub, sbody, _send in _boxes(data, body, end):
                if sub == b"ihdr" and sbody + 11 <= len(data):
                    h, w, nc, bpc = struct.unpack(">IIHB", data[sbody:sbody + 11])
                    ihdr = (w, h, nc, (bpc & 0x7F) + 1)
        elif box == b"jp2c":
            code = _siz(data, body)
            break
    if code is None:
        raise _fail("JP2 payload holds no codestream (jp2c box)")
    if ihdr is not None and ihdr[:3] != (code.width, code.height, code.channels):
        raise _fail(f"JP2 header box says {ihdr[0]}x{ihdr[1]}x{ihdr[2]}, its codestream "
                    f"{code.width}x{code.height}x{code.channels}")
    return code


def payload_header(data: bytes, kind: str) -> PayloadHeader:
    """The size the payload states in its own header, read without decoding; `kind` as declared."""
    if kind not in KINDS:
        raise TemplateFormatError(f"unknown image payload kind {kind!r}; one of {', '.join(KINDS)}")
    data = bytes(data)
    found = sniff(data)
    if found is None:
        raise _fail(f"the embedded image is not a {kind} image (starts with {data[:8].hex(' ')})")
    if found != kind:
        raise _fail(f"the record declares a {kind} image, the payload is {found}")
    if kind == "png":
        return _png(data)
    if kind in ("jpeg", "jpeg_ls"):
        return _jpeg(data, kind)
    return _jpeg2000(data)


def check_payload(data: bytes, kind: str, *, width: int, height: int,
                  max_bytes: int = MAX_DECODED_BYTES) -> PayloadHeader:
    """Refuse a payload whose own header disagrees with the record or exceeds the limit."""
    head = payload_header(data, kind)
    if not (1 <= head.width <= MAX_SIDE and 1 <= head.height <= MAX_SIDE):
        raise _fail(f"the embedded {kind} image states {head.width}x{head.height}, outside "
                    f"1..{MAX_SIDE}; refused before decoding")
    if (head.width, head.height) != (width, height):
        raise _fail(f"the record says {width}x{height}, its embedded {kind} image states "
                    f"{head.width}x{head.height}; refused before decoding")
    if head.decoded_bytes > max_bytes:
        raise _fail(f"the embedded {kind} image would decode to {head.decoded_bytes} bytes, over the "
                    f"{max_bytes}-byte limit; refused before decoding")
    return head


def decode_payload(data: bytes, kind: str, *, width: int, height: int,
                   max_bytes: int = MAX_DECODED_BYTES) -> np.ndarray:
    """The payload as a 2-D uint8 grey image, after `check_payload`; TemplateFormatError otherwise."""
    import cv2

    check_payload(data, kind, width=width, height=height, max_bytes=max_bytes)
    try:
        img = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error as exc:  # a damaged stream can make a decoder throw instead of returning None
        raise _fail(f"the embedded {kind} image could not be decoded: {exc.msg if hasattr(exc, 'msg') else exc}",
                    hint="the image bytes are corrupt or truncated") from None
    if img is None:
        raise _fail(f"the embedded {kind} image could not be decoded",
                    hint="the image bytes are corrupt or truncated")
    if img.shape != (height, width):
        raise _fail(f"the embedded {kind} image decoded to {img.shape[1]}x{img.shape[0]}, the record "
                    f"says {width}x{height}")
    if img.dtype != np.uint8:
        img = (img / 257).astype(np.uint8)
    return img

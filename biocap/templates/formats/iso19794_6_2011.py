"""ISO/IEC 19794-6:2011 iris image data records: read and write.

    record = decode(data)        # IrisImageRecord with its representations
    image = record.representations[0].decode_image()   # 2-D uint8 (cv2 decodes PNG/JPEG/J2K)
    # the payload's own header is checked against the record's size and a limit before decoding
    data = encode(record)

Layout (big-endian): general header `IIR\\0`, `020\\0`, record length (4), number of
representations (2), certification flag (1), number of eyes (1); then per representation:
length (4), capture date-time (9), device technology (1), vendor (2), type (2), quality blocks
(count 1, each score 1 + algorithm vendor 2 + algorithm id 2), representation number (2), eye
label (1), image type (1), image format (1), image properties (1), width (2), height (2), bit
depth (1), range (2), roll angle (2), roll uncertainty (2), iris centre x min/max, y min/max
(2 each), iris diameter min/max (2 each), image length (4), image data.

Every malformed input raises `TemplateFormatError` naming the field and byte offset. The NIST
test record `iris01.iso2011` states a representation length 5 bytes short of its content; that
inconsistency is tolerated (the image length and record length agree) and noted in `warnings`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import cv2
import numpy as np

from ...errors import TemplateFormatError
from .image_payload import decode_payload

NAME = "iso19794-6:2011"
MAGIC = b"IIR\x00"
VERSION = b"020\x00"
HEADER_LEN = 16
#: image format codes of ISO/IEC 19794-6:2011
IMAGE_FORMATS = {2: "mono_raw", 4: "rgb_raw", 6: "mono_jpeg", 8: "rgb_jpeg", 10: "mono_jpeg_ls",
                 12: "rgb_jpeg_ls", 14: "mono_png", 16: "rgb_png", 18: "mono_jpeg2000",
                 20: "rgb_jpeg2000"}
#: the compressed payload kind of each compressed image format code
PAYLOAD_KINDS = {6: "jpeg", 8: "jpeg", 10: "jpeg_ls", 12: "jpeg_ls", 14: "png", 16: "png",
                 18: "jpeg2000", 20: "jpeg2000"}
MAX_SIDE = 8192
MAX_RECORD = 64 * 1024 * 1024  # a record larger than this is refused rather than parsed


@dataclass
class QualityBlock:
    score: int
    algorithm_vendor: int
    algorithm_id: int


@dataclass
class IrisRepresentation:
    image_data: bytes
    width: int
    height: int
    image_format: int = 14
    eye_label: int = 0  # 0 undefined, 1 right, 2 left
    image_type: int = 1  # 1 uncropped, 2 VGA, 3 cropped, 7 cropped and masked
    image_properties: int = 0
    bit_depth: int = 8
    capture_datetime: tuple[int, int, int, int, int, int, int] = (0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFFFF)
    device_technology: int = 0
    device_vendor: int = 0
    device_type: int = 0
    quality_blocks: list[QualityBlock] = field(default_factory=list)
    representation_number: int = 1
    range: int = 0
    roll_angle: int = 0xFFFF
    roll_uncertainty: int = 0xFFFF
    iris_centre: tuple[int, int, int, int] = (0, 0, 0, 0)  # x min, x max, y min, y max
    iris_diameter: tuple[int, int] = (0, 0)  # smallest, largest

    @property
    def format_name(self) -> str:
        return IMAGE_FORMATS.get(self.image_format, f"unknown({self.image_format})")

    def decode_image(self) -> np.ndarray:
        """The image as a 2-D uint8 array (colour is converted to grey)."""
        if self.image_format in (2, 4):
            channels = 1 if self.image_format == 2 else 3
            need = self.width * self.height * channels
            if len(self.image_data) != need:
                raise TemplateFormatError(f"raw image holds {len(self.image_data)} bytes, "
                                          f"{self.width}x{self.height}x{channels} needs {need}",
                                          field="image data")
            a = np.frombuffer(self.image_data, np.uint8).reshape(self.height, self.width, channels)
            return a[:, :, 0].copy() if channels == 1 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
        kind = PAYLOAD_KINDS[self.image_format]
        return decode_payload(self.image_data, kind, width=self.width, height=self.height)


@dataclass
class IrisImageRecord:
    representations: list[IrisRepresentation]
    certification_flag: int = 0
    number_of_eyes: int = 0
    warnings: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes, start: int = 0):
        self.data, self.pos = data, start

    def take(self, n: int, name: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TemplateFormatError(f"record ends before {name} ({n} bytes needed, "
                                      f"{len(self.data) - self.pos} left)", field=name, offset=self.pos)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, name: str) -> int:
        return self.take(1, name)[0]

    def u16(self, name: str) -> int:
        return struct.unpack(">H", self.take(2, name))[0]

    def u32(self, name: str) -> int:
        return struct.unpack(">I", self.take(4, name))[0]


def decode(data: bytes) -> IrisImageRecord:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TemplateFormatError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_RECORD:
        raise TemplateFormatError(f"record of {len(data)} bytes exceeds the {MAX_RECORD}-byte limit",
                                  field="record length", offset=0)
    r = _Reader(data)
    if r.take(4, "format identifier") != MAGIC:
        raise TemplateFormatError("not an ISO/IEC 19794-6 iris image record (identifier is not 'IIR')",
                                  field="format identifier", offset=0)
    if r.take(4, "version") != VERSION:
        raise TemplateFormatError("version is not 020 (ISO/IEC 19794-6:2011)", field="version", offset=4,
                                  hint="a 2005 record (version 010) needs the 2005 codec")
    length = r.u32("record length")
    if length != len(data):
        raise TemplateFormatError(f"record length says {length} bytes, the data holds {len(data)}",
                                  field="record length", offset=8)
    count = r.u16("number of representations")
    if count == 0:
        raise TemplateFormatError("record holds no iris representation",
                                  field="number of representations", offset=12)
    cert = r.u8("certification flag")
    eyes = r.u8("number of eyes")
    if eyes > 2:
        raise TemplateFormatError(f"number of eyes {eyes} is more than 2", field="number of eyes", offset=15)
    record = IrisImageRecord([], cert, eyes)
    for _ in range(count):
        record.representations.append(_representation(r, record))
    if r.pos != len(data):
        raise TemplateFormatError(f"{len(data) - r.pos} bytes follow the last representation",
                                  field="record length", offset=r.pos)
    return record


def _representation(r: _Reader, record: IrisImageRecord) -> IrisRepresentation:
    start = r.pos
    rep_len = r.u32("representation length")
    dt = r.take(9, "capture date and time")
    when = struct.unpack(">HBBBBBH", dt)
    tech = r.u8("capture device technology")
    vendor = r.u16("capture device vendor")
    dtype = r.u16("capture device type")
    nq = r.u8("number of quality blocks")
    quality = []
    for _ in range(nq):
        quality.append(QualityBlock(r.u8("quality score"), r.u16("quality algorithm vendor"),
                                    r.u16("quality algorithm id")))
    number = r.u16("representation number")
    pos = r.pos
    eye = r.u8("eye label")
    if eye > 2:
        raise TemplateFormatError(f"eye label {eye} is not 0, 1 or 2", field="eye label", offset=pos)
    itype = r.u8("image type")
    pos = r.pos
    fmt = r.u8("image format")
    if fmt not in IMAGE_FORMATS:
        raise TemplateFormatError(f"image format code {fmt} is not defined", field="image format", offset=pos)
    props = r.u8("image properties")
    pos = r.pos
    width, height = r.u16("image width"), r.u16("image height")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise TemplateFormatError(f"image size {width}x{height} is outside 1..{MAX_SIDE}",
                                  field="image width", offset=pos)
    depth = r.u8("bit depth")
    rng = r.u16("range")
    roll, roll_u = r.u16("roll angle"), r.u16("roll angle uncertainty")
    centre = tuple(r.u16(n) for n in ("iris centre smallest x", "iris centre largest x",
                                      "iris centre smallest y", "iris centre largest y"))
    diam = (r.u16("iris diameter smallest"), r.u16("iris diameter largest"))
    pos = r.pos
    img_len = r.u32("image length")
    if img_len == 0:
        raise TemplateFormatError("representation holds no image", field="image length", offset=pos)
    image = r.take(img_len, "image data")
    if r.pos - start != rep_len:
        record.warnings.append(f"representation at byte {start} states length {rep_len}, "
                               f"its content is {r.pos - start} bytes")
    return IrisRepresentation(image, width, height, fmt, eye, itype, props, depth, when, tech, vendor,
                              dtype, quality, number, rng, roll, roll_u, centre, diam)


def _encode_representation(rep: IrisRepresentation) -> bytes:
    body = bytearray()
    body += struct.pack(">HBBBBBH", *rep.capture_datetime)
    body += struct.pack(">BHHB", rep.device_technology, rep.device_vendor, rep.device_type,
                        len(rep.quality_blocks))
    for q in rep.quality_blocks:
        body += struct.pack(">BHH", q.score, q.algorithm_vendor, q.algorithm_id)
    body += struct.pack(">HBBBBHHBHHH", rep.representation_number, rep.eye_label, rep.image_type,
                        rep.image_format, rep.image_properties, rep.width, rep.height, rep.bit_depth,
                        rep.range, rep.roll_angle, rep.roll_uncertainty)
    body += struct.pack(">HHHHHH", *rep.iris_centre, *rep.iris_diameter)
    body += struct.pack(">I", len(rep.image_data)) + rep.image_data
    return struct.pack(">I", len(body) + 4) + bytes(body)


def encode(record: IrisImageRecord) -> bytes:
    if not isinstance(record, IrisImageRecord) or not record.representations:
        raise TemplateFormatError("encode needs an IrisImageRecord with at least one representation")
    try:
        reps = b"".join(_encode_representation(r) for r in record.representations)
    except struct.error as exc:
        raise TemplateFormatError(f"a field does not fit its ISO/IEC 19794-6 size: {exc}") from exc
    total = HEADER_LEN + len(reps)
    return MAGIC + VERSION + struct.pack(">IHBB", total, len(record.representations),
                                         record.certification_flag, record.number_of_eyes) + reps


def from_image(image: np.ndarray, *, eye_label: int = 0, image_format: int = 14) -> IrisImageRecord:
    """A one-representation record holding `image` (2-D uint8) as PNG (14) or JPEG (6)."""
    from ...types import validate_image
    validate_image(image, what="iris image")
    ext = {14: ".png", 6: ".jpg"}.get(image_format)
    if ext is None:
        raise TemplateFormatError(f"from_image writes PNG (14) or JPEG (6), not format {image_format}")
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise TemplateFormatError("the image could not be encoded")
    h, w = image.shape
    rep = IrisRepresentation(buf.tobytes(), w, h, image_format, eye_label)
    return IrisImageRecord([rep], number_of_eyes=1 if eye_label else 0)

"""ISO/IEC 19794-5:2011 face image records (2D representations): read and write.

Layout (big-endian), as the MOSIP biometrics-util reader/writer lays it out:
    general header (17): 'FAC\\0' | '030\\0' | record length (4) | number of representations (2) |
      certification flag (1, must be 0: no certification blocks are defined for face) |
      temporal semantics (2)
    per representation:
      representation length (4, counts itself) | capture date-time (9: year 2, month, day, hour,
      minute, second 1 each, millisecond 2) | capture device technology (1) | vendor (2) | type (2) |
      quality blocks: count (1), each score (1) + algorithm vendor (2) + algorithm id (2)
      facial information (17): number of landmark points (2) | gender (1) | eye colour (1) |
        hair colour (1) | subject height (1) | property mask (3) | expression (2) |
        pose angle yaw, pitch, roll (3) | pose angle uncertainty yaw, pitch, roll (3)
      landmark points (8 each): type (1) | code (1) | x (2) | y (2) | z (2)
      image information (11): face image type (1) | image data type (1: 0 JPEG, 1 JPEG 2000
        lossy, 2 JPEG 2000 lossless, 3 PNG) | width (2) | height (2) | spatial sampling rate
        level (1) | post-acquisition processing (2) | cross reference (1) | image colour space (1)
      image data length (4) | image data
3D representations (face image type 0x80-0x82, which add a 3D block) are refused.
"""
from __future__ import annotations

import struct

from ...errors import TemplateFormatError
from ._binary import Reader, Writer, fail
from ._face_common import JPEG, JPEG2000, PNG, FaceImage, FaceImageRecord, FeaturePoint, QualityBlock

NAME = "iso19794-5:2011"
MAGIC = b"FAC\x00"
VERSION = b"030\x00"
HEADER_LEN = 17
MIN_REPRESENTATION = 4 + 9 + 5 + 1 + 17 + 11 + 4 + 1   # fixed fields + one image byte
DATA_TYPES = {0: JPEG, 1: JPEG2000, 2: JPEG2000, 3: PNG}
KIND_CODES = {JPEG: 0, JPEG2000: 2, PNG: 3}   # JPEG 2000 written by biocap is lossless


def decode(data: bytes, *, strict: bool = True) -> FaceImageRecord:
    r = Reader(bytes(data))
    if r.take(4, "format identifier") != MAGIC:
        raise fail("not an ISO/IEC 19794-5 face record (identifier is not 'FAC')", "format identifier", 0)
    if r.take(4, "version") != VERSION:
        raise fail("version is not 030 (ISO/IEC 19794-5:2011)", "version", 4)
    length = r.u32("record length")
    if length != len(r.data):
        raise fail(f"record length says {length} bytes, the data holds {len(r.data)}", "record length", 8)
    count = r.u16("number of representations")
    if count == 0:
        raise fail("the record holds no representation", "number of representations", 12)
    cert = r.u8("certification flag")
    if cert != 0:
        raise fail(f"certification flag {cert}: ISO/IEC 19794-5:2011 defines no certification "
                   "blocks for face, so the flag must be 0", "certification flag", 14)
    temporal = r.u16("temporal semantics")
    if count * MIN_REPRESENTATION > r.remaining:
        raise fail(f"{count} representations cannot fit in {r.remaining} bytes",
                   "number of representations", 12)
    record = FaceImageRecord([], format=NAME, certification_flag=cert, temporal_semantics=temporal)
    for _ in range(count):
        record.images.append(_representation(r))
    if r.remaining:
        raise fail(f"{r.remaining} bytes follow the last representation", "record length", r.pos)
    return record


def _representation(r: Reader) -> FaceImage:
    start = r.pos
    rep_len = r.u32("representation length")
    if rep_len < MIN_REPRESENTATION or start + rep_len > r.end:
        raise fail(f"representation length {rep_len} does not fit the record "
                   f"({r.end - start} bytes remain)", "representation length", start)
    b = Reader(r.data, r.pos, start + rep_len)
    r.pos = start + rep_len
    when = struct.unpack(">HBBBBBH", b.take(9, "capture date and time"))
    tech = b.u8("capture device technology")
    vendor = b.u16("capture device vendor")
    dev_type = b.u16("capture device type")
    pos = b.pos
    nq = b.u8("number of quality blocks")
    if nq * 5 > b.remaining:
        raise fail(f"{nq} quality blocks cannot fit in the representation", "number of quality blocks", pos)
    quality = [QualityBlock(b.u8("quality score"), b.u16("quality algorithm vendor"),
                            b.u16("quality algorithm id")) for _ in range(nq)]
    pos = b.pos
    n_points = b.u16("number of landmark points")
    if n_points * 8 + 15 + 11 + 4 > b.remaining:
        raise fail(f"{n_points} landmark points cannot fit in the representation",
                   "number of landmark points", pos)
    gender = b.u8("gender")
    eye = b.u8("eye colour")
    hair = b.u8("hair colour")
    height_cm = b.u8("subject height")
    mask = int.from_bytes(b.take(3, "property mask"), "big")
    expression = b.u16("expression")
    pose = tuple(b.u8(f"pose angle {a}") for a in ("yaw", "pitch", "roll"))
    unc = tuple(b.u8(f"pose angle uncertainty {a}") for a in ("yaw", "pitch", "roll"))
    points = [FeaturePoint(b.u8(f"landmark {i} type"), b.u8(f"landmark {i} code"), b.u16(f"landmark {i} x"),
                           b.u16(f"landmark {i} y"), b.u16(f"landmark {i} z")) for i in range(n_points)]
    pos = b.pos
    face_type = b.u8("face image type")
    if face_type & 0x80:
        raise fail(f"face image type 0x{face_type:02X} is a 3D representation; biocap reads 2D "
                   "face images only", "face image type", pos)
    pos = b.pos
    dtype = b.u8("image data type")
    if dtype not in DATA_TYPES:
        raise fail(f"image data type {dtype} is not 0 (JPEG), 1/2 (JPEG 2000) or 3 (PNG)",
                   "image data type", pos)
    pos = b.pos
    width, height = b.u16("width"), b.u16("height")
    if width == 0 or height == 0:
        raise fail(f"image size {width}x{height} is empty", "width", pos)
    sampling = b.u8("spatial sampling rate level")
    post = b.u16("post-acquisition processing")
    cross = b.u8("cross reference")
    colour = b.u8("image colour space")
    pos = b.pos
    img_len = b.u32("image data length")
    if img_len == 0 or img_len != b.remaining:
        raise fail(f"image data length {img_len} disagrees with the {b.remaining} bytes left in "
                   "the representation", "image data length", pos)
    image = b.take(img_len, "image data")
    return FaceImage(image, width, height, dtype, face_type, gender, eye, hair, mask, expression,
                     pose, unc, points, colour, capture_datetime=when, device_technology=tech,
                     device_vendor=vendor, device_type_id=dev_type, quality_blocks=quality,
                     subject_height=height_cm, spatial_sampling_rate=sampling, post_acquisition=post,
                     cross_reference=cross, payload_kind=DATA_TYPES[dtype])


def encode(record: FaceImageRecord) -> bytes:
    if not isinstance(record, FaceImageRecord) or not record.images:
        raise TemplateFormatError("encode needs a FaceImageRecord with at least one image", field="images")
    if record.certification_flag != 0:
        raise TemplateFormatError("the certification flag of a face record must be 0",
                                  field="certification flag")
    reps = [_encode_representation(img) for img in record.images]
    w = Writer()
    w.raw(MAGIC + VERSION)
    w.u32(HEADER_LEN + sum(len(x) for x in reps), "record length")
    w.u16(len(reps), "number of representations")
    w.u8(0, "certification flag")
    w.u16(record.temporal_semantics, "temporal semantics")
    for x in reps:
        w.raw(x)
    return w.getvalue()


def _data_type_code(img: FaceImage) -> int:
    # keep the record's own code when it names the same payload kind (JPEG 2000 lossy stays 1)
    if DATA_TYPES.get(img.image_data_type) == img.payload_kind and img.image_data_type in DATA_TYPES:
        return img.image_data_type
    code = KIND_CODES.get(img.payload_kind)
    if code is None:
        raise TemplateFormatError(f"unsupported image payload kind {img.payload_kind!r}",
                                  field="image data type")
    return code


def _encode_representation(img: FaceImage) -> bytes:
    if not img.image_data:
        raise TemplateFormatError("the face image has no image data", field="image data")
    if img.face_image_type & 0x80:
        raise TemplateFormatError("3D face representations are not written by biocap", field="face image type")
    w = Writer()
    try:
        w.raw(struct.pack(">HBBBBBH", *img.capture_datetime))
    except struct.error as exc:
        raise TemplateFormatError(f"capture date and time {img.capture_datetime} does not fit: {exc}",
                                  field="capture date and time") from exc
    w.u8(img.device_technology, "capture device technology")
    w.u16(img.device_vendor, "capture device vendor")
    w.u16(img.device_type_id, "capture device type")
    w.u8(len(img.quality_blocks), "number of quality blocks")
    for q in img.quality_blocks:
        w.u8(q.score, "quality score")
        w.u16(q.algorithm_vendor, "quality algorithm vendor")
        w.u16(q.algorithm_id, "quality algorithm id")
    w.u16(len(img.feature_points), "number of landmark points")
    w.u8(img.gender, "gender")
    w.u8(img.eye_colour, "eye colour")
    w.u8(img.hair_colour, "hair colour")
    w.u8(img.subject_height, "subject height")
    w._check(img.feature_mask, 24, "property mask")
    w.raw(int(img.feature_mask).to_bytes(3, "big"))
    w.u16(img.expression, "expression")
    for v in img.pose_angle:
        w.u8(v, "pose angle")
    for v in img.pose_uncertainty:
        w.u8(v, "pose angle uncertainty")
    for p in img.feature_points:
        w.u8(p.type, "landmark type")
        w.u8(p.code, "landmark code")
        w.u16(p.x, "landmark x")
        w.u16(p.y, "landmark y")
        w.u16(p.z, "landmark z")
    w.u8(img.face_image_type, "face image type")
    w.u8(_data_type_code(img), "image data type")
    w.u16(img.width, "width")
    w.u16(img.height, "height")
    w.u8(img.spatial_sampling_rate, "spatial sampling rate level")
    w.u16(img.post_acquisition, "post-acquisition processing")
    w.u8(img.cross_reference, "cross reference")
    w.u8(img.colour_space, "image colour space")
    w.u32(len(img.image_data), "image data length")
    w.raw(img.image_data)
    body = w.getvalue()
    return struct.pack(">I", len(body) + 4) + body

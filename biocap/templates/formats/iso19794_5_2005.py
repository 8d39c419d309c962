"""ISO/IEC 19794-5:2005 face image records: read and write.

Layout (big-endian), as NIST libbiomeval and JMRTD read it:
    header (14): 'FAC\\0' | '010\\0' | record length (4) | number of facial images (2)
    per image, the facial record data block:
      facial information (20): block length (4, counts itself and all that follows up to the
        end of the image data) | number of feature points (2) | gender (1) | eye colour (1) |
        hair colour (1) | feature mask (3) | expression (2) | pose angle yaw, pitch, roll (3) |
        pose angle uncertainty yaw, pitch, roll (3)
      feature points (8 each): type (1) | major << 4 | minor (1) | x (2) | y (2) | reserved (2)
      image information (12): face image type (1) | image data type (1: 0 JPEG, 1 JPEG 2000) |
        width (2) | height (2) | colour space (1) | source type (1) | device type (2) | quality (2)
      image data: the rest of the block
"""
from __future__ import annotations

from ...errors import TemplateFormatError
from ._binary import Reader, Writer, fail
from ._face_common import JPEG, JPEG2000, FaceImage, FaceImageRecord, FeaturePoint

NAME = "iso19794-5:2005"
MAGIC = b"FAC\x00"
VERSION = b"010\x00"
HEADER_LEN = 14
INFO_LEN = 20
POINT_LEN = 8
IMAGE_INFO_LEN = 12
DATA_TYPES = {0: JPEG, 1: JPEG2000}
KIND_CODES = {JPEG: 0, JPEG2000: 1}


def decode(data: bytes, *, strict: bool = True) -> FaceImageRecord:
    r = Reader(bytes(data))
    if r.take(4, "format identifier") != MAGIC:
        raise fail("not an ISO/IEC 19794-5 face record (identifier is not 'FAC')", "format identifier", 0)
    if r.take(4, "version") != VERSION:
        raise fail("version is not 010 (ISO/IEC 19794-5:2005)", "version", 4)
    length = r.u32("record length")
    if length != len(r.data):
        raise fail(f"record length says {length} bytes, the data holds {len(r.data)}", "record length", 8)
    count = r.u16("number of facial images")
    if count == 0:
        raise fail("the record holds no facial image", "number of facial images", 12)
    # every image needs at least its 32 bytes of fixed fields: a lying count fails here
    if count * (INFO_LEN + IMAGE_INFO_LEN) > r.remaining:
        raise fail(f"{count} facial images cannot fit in {r.remaining} bytes",
                   "number of facial images", 12)
    record = FaceImageRecord([], format=NAME)
    for _ in range(count):
        record.images.append(_image(r))
    if r.remaining:
        raise fail(f"{r.remaining} bytes follow the last facial image", "record length", r.pos)
    return record


def _image(r: Reader) -> FaceImage:
    start = r.pos
    block_len = r.u32("facial record data length")
    if block_len < INFO_LEN + IMAGE_INFO_LEN or start + block_len > r.end:
        raise fail(f"facial record data length {block_len} does not fit the record "
                   f"({r.end - start} bytes remain)", "facial record data length", start)
    block = Reader(r.data, r.pos, start + block_len)
    r.pos = start + block_len
    n_points = block.u16("number of feature points")
    if n_points * POINT_LEN + IMAGE_INFO_LEN > block.remaining - 14:
        raise fail(f"{n_points} feature points cannot fit in the facial record data",
                   "number of feature points", start + 4)
    gender = block.u8("gender")
    eye = block.u8("eye colour")
    hair = block.u8("hair colour")
    mask = int.from_bytes(block.take(3, "feature mask"), "big")
    expression = block.u16("expression")
    pose = tuple(block.u8(f"pose angle {a}") for a in ("yaw", "pitch", "roll"))
    unc = tuple(block.u8(f"pose angle uncertainty {a}") for a in ("yaw", "pitch", "roll"))
    points = []
    for i in range(n_points):
        points.append(FeaturePoint(block.u8(f"feature point {i} type"), block.u8(f"feature point {i} code"),
                                   block.u16(f"feature point {i} x"), block.u16(f"feature point {i} y"),
                                   block.u16(f"feature point {i} reserved")))
    face_type = block.u8("face image type")
    pos = block.pos
    dtype = block.u8("image data type")
    if dtype not in DATA_TYPES:
        raise fail(f"image data type {dtype} is neither 0 (JPEG) nor 1 (JPEG 2000)", "image data type", pos)
    pos = block.pos
    width, height = block.u16("width"), block.u16("height")
    if width == 0 or height == 0:
        raise fail(f"image size {width}x{height} is empty", "width", pos)
    colour = block.u8("image colour space")
    source = block.u8("source type")
    device = block.u16("device type")
    quality = block.u16("quality")
    if block.remaining == 0:
        raise fail("the facial record holds no image data", "image data", block.pos)
    image = block.take(block.remaining, "image data")
    return FaceImage(image, width, height, dtype, face_type, gender, eye, hair, mask, expression,
                     pose, unc, points, colour, source, device, quality, payload_kind=DATA_TYPES[dtype])


def encode(record: FaceImageRecord) -> bytes:
    if not isinstance(record, FaceImageRecord) or not record.images:
        raise TemplateFormatError("encode needs a FaceImageRecord with at least one image", field="images")
    blocks = [_encode_image(img) for img in record.images]
    w = Writer()
    w.raw(MAGIC + VERSION)
    w.u32(HEADER_LEN + sum(len(b) for b in blocks), "record length")
    w.u16(len(blocks), "number of facial images")
    for b in blocks:
        w.raw(b)
    return w.getvalue()


def _encode_image(img: FaceImage) -> bytes:
    code = KIND_CODES.get(img.payload_kind)
    if code is None:
        raise TemplateFormatError(f"the 2005 edition holds JPEG or JPEG 2000, not {img.payload_kind}",
                                  field="image data type", hint="write it as iso19794-5:2011")
    if not img.image_data:
        raise TemplateFormatError("the face image has no image data", field="image data")
    w = Writer()
    w.u32(INFO_LEN + POINT_LEN * len(img.feature_points) + IMAGE_INFO_LEN + len(img.image_data),
          "facial record data length")
    w.u16(len(img.feature_points), "number of feature points")
    w.u8(img.gender, "gender")
    w.u8(img.eye_colour, "eye colour")
    w.u8(img.hair_colour, "hair colour")
    w._check(img.feature_mask, 24, "feature mask")
    w.raw(int(img.feature_mask).to_bytes(3, "big"))
    w.u16(img.expression, "expression")
    for v in img.pose_angle:
        w.u8(v, "pose angle")
    for v in img.pose_uncertainty:
        w.u8(v, "pose angle uncertainty")
    for p in img.feature_points:
        w.u8(p.type, "feature point type")
        w.u8(p.code, "feature point code")
        w.u16(p.x, "feature point x")
        w.u16(p.y, "feature point y")
        w.u16(p.z, "feature point reserved")
    w.u8(img.face_image_type, "face image type")
    w.u8(code, "image data type")
    w.u16(img.width, "width")
    w.u16(img.height, "height")
    w.u8(img.colour_space, "image colour space")
    w.u8(img.source_type, "source type")
    w.u16(img.device_type, "device type")
    w.u16(img.quality, "quality")
    w.raw(img.image_data)
    return w.getvalue()

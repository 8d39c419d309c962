"""What the ISO/IEC 19794-5 face image codecs (2005, 2011) share: the record model and the payload.

A record decodes into a `FaceImageRecord` holding `FaceImage`s. Every coded field is kept as
its code (ints), so a record re-encodes to the same bytes; helpers turn codes into names and
degrees. The image payload is kept as bytes and decoded on request by `FaceImage.decode_image`,
which reads the JPEG / JPEG 2000 / PNG header first and refuses, BEFORE decoding, a payload whose
dimensions disagree with the record or exceed `MAX_DECODED_PIXELS` (decompression bombs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import image_payload
from ...errors import TemplateFormatError
from ...types import Modality

MAX_DECODED_PIXELS = 40_000_000   # ~ 7700 x 5200: above any portrait camera, below a bomb
MAX_SIDE = 65_535                 # the records' 16-bit width/height fields

GENDER = {0: "unspecified", 1: "male", 2: "female", 0xFF: "unknown"}
EYE_COLOUR = {0: "unspecified", 1: "black", 2: "blue", 3: "brown", 4: "grey", 5: "green",
              6: "multi-coloured", 7: "pink", 0xFF: "unknown"}
HAIR_COLOUR = {0: "unspecified", 1: "bald", 2: "black", 3: "blonde", 4: "brown", 5: "grey",
               6: "white", 7: "red", 8: "green", 9: "blue", 0xFF: "unknown"}
FEATURES = {0x1: "features specified", 0x2: "glasses", 0x4: "moustache", 0x8: "beard",
            0x10: "teeth visible", 0x20: "blink", 0x40: "mouth open", 0x80: "left eye patch",
            0x100: "right eye patch", 0x200: "dark glasses", 0x400: "distorting medical condition"}
EXPRESSION = {0: "unspecified", 1: "neutral", 2: "smile, closed jaw", 3: "smile, open jaw",
              4: "raised eyebrows", 5: "eyes looking away", 6: "squinting", 7: "frowning"}
FACE_IMAGE_TYPE = {0: "basic", 1: "full frontal", 2: "token frontal", 3: "post-processed frontal"}
COLOUR_SPACE = {0: "unspecified", 1: "24-bit RGB", 2: "YUV422", 3: "8-bit greyscale", 4: "other"}
SOURCE_TYPE = {0: "unspecified", 1: "static photo, unknown source", 2: "static photo, digital still",
               3: "static photo, scanner", 4: "video frame, unknown source",
               5: "video frame, analogue camera", 6: "video frame, digital camera", 7: "unknown"}
# payload kinds; each edition maps its image data type codes onto these
JPEG, JPEG2000, PNG = "jpeg", "jpeg2000", "png"


def pose_degrees(code: int) -> int | None:
    """A pose angle code (1..181) in degrees (-180..180); 0 = unspecified -> None."""
    return None if code == 0 else 2 * (code - 1) - 180


def pose_code(degrees: float | None) -> int:
    if degrees is None:
        return 0
    if not -180 <= degrees <= 180:
        raise TemplateFormatError(f"pose angle {degrees} degrees is outside -180..180", field="pose angle")
    return int(round((degrees + 180) / 2)) + 1


def uncertainty_degrees(code: int) -> int | None:
    """A pose angle uncertainty code (1..181) in degrees (0..180); 0 = unspecified -> None."""
    return None if code == 0 else code - 1


@dataclass
class FeaturePoint:
    """A feature (2005) or landmark (2011) point: type 1 = MPEG-4 point, code = major << 4 | minor."""

    type: int
    code: int
    x: int
    y: int
    z: int = 0          # 2011 only; 2005 stores a reserved 16-bit field here (kept as read)

    @property
    def major(self) -> int:
        return self.code >> 4

    @property
    def minor(self) -> int:
        return self.code & 0x0F


@dataclass
class QualityBlock:
    score: int
    algorithm_vendor: int
    algorithm_id: int


@dataclass
class FaceImage:
    """One facial record data block (2005) or representation (2011), codes as stored."""

    image_data: bytes
    width: int
    height: int
    image_data_type: int = 0            # edition's code; see `payload_kind`
    face_image_type: int = 1            # 0 basic, 1 full frontal, 2 token frontal
    gender: int = 0
    eye_colour: int = 0
    hair_colour: int = 0
    feature_mask: int = 0               # 24 bits
    expression: int = 0
    pose_angle: tuple[int, int, int] = (0, 0, 0)           # yaw, pitch, roll codes
    pose_uncertainty: tuple[int, int, int] = (0, 0, 0)
    feature_points: list[FeaturePoint] = field(default_factory=list)
    colour_space: int = 0
    # 2005 only
    source_type: int = 0
    device_type: int = 0
    quality: int = 0
    # 2011 only
    capture_datetime: tuple[int, int, int, int, int, int, int] = (0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFFFF)
    device_technology: int = 0
    device_vendor: int = 0
    device_type_id: int = 0
    quality_blocks: list[QualityBlock] = field(default_factory=list)
    subject_height: int = 0
    spatial_sampling_rate: int = 0
    post_acquisition: int = 0
    cross_reference: int = 0
    payload_kind: str = JPEG            # set by the codec from image_data_type

    @classmethod
    def from_array(cls, image: np.ndarray, kind: str = JPEG2000, *, quality: int = 90,
                   **fields: Any) -> "FaceImage":
        """A face image holding `image` (uint8 grey or RGB) as lossless JPEG 2000 (default),
        JPEG at `quality`, or PNG (2011 only); other fields by keyword (codes as stored)."""
        image = np.asarray(image)
        data = encode_payload(image, kind, quality=quality)
        colour = 3 if image.ndim == 2 else 1
        fields.setdefault("colour_space", colour)
        return cls(data, int(image.shape[1]), int(image.shape[0]), payload_kind=kind,
                   image_data_type={JPEG: 0, JPEG2000: 2, PNG: 3}[kind], **fields)

    @property
    def features(self) -> list[str]:
        if not self.feature_mask & 1:
            return []
        return [name for bit, name in FEATURES.items() if bit != 1 and self.feature_mask & bit]

    def summary(self) -> dict[str, Any]:
        """Codes with their names, pose in degrees: what `biocap template info` shows."""
        return {
            "face_image_type": FACE_IMAGE_TYPE.get(self.face_image_type, f"code {self.face_image_type}"),
            "image_data": self.payload_kind, "width": self.width, "height": self.height,
            "image_bytes": len(self.image_data),
            "gender": GENDER.get(self.gender, f"code {self.gender}"),
            "eye_colour": EYE_COLOUR.get(self.eye_colour, f"code {self.eye_colour}"),
            "hair_colour": HAIR_COLOUR.get(self.hair_colour, f"code {self.hair_colour}"),
            "features": self.features,
            "expression": EXPRESSION.get(self.expression, f"code {self.expression}"),
            "pose_degrees": {k: pose_degrees(c) for k, c in zip(("yaw", "pitch", "roll"), self.pose_angle)},
            "pose_uncertainty_degrees": {k: uncertainty_degrees(c) for k, c in
                                         zip(("yaw", "pitch", "roll"), self.pose_uncertainty)},
            "pose_codes": list(self.pose_angle), "pose_uncertainty_codes": list(self.pose_uncertainty),
            "colour_space": COLOUR_SPACE.get(self.colour_space, f"code {self.colour_space}"),
            "source_type": SOURCE_TYPE.get(self.source_type, f"code {self.source_type}"),
            "feature_points": [{"type": p.type, "point": f"{p.major}.{p.minor}", "x": p.x, "y": p.y,
                                "z": p.z} for p in self.feature_points],
        }

    def payload_dimensions(self) -> tuple[int, int, int]:
        """(width, height, components) read from the payload's own header (no decoding)."""
        return payload_dimensions(self.image_data, self.payload_kind)

    def decode_image(self, *, max_pixels: int = MAX_DECODED_PIXELS) -> np.ndarray:
        """The image as uint8 (H, W) grey or (H, W, 3) RGB, after the bomb checks."""
        return decode_payload(self.image_data, self.payload_kind, self.width, self.height, max_pixels)


@dataclass
class FaceImageRecord:
    """An ISO/IEC 19794-5 face image record (either edition)."""

    images: list[FaceImage]
    format: str = "iso19794-5:2011"
    certification_flag: int = 0       # 2011
    temporal_semantics: int = 0       # 2011
    notes: list[str] = field(default_factory=list)
    modality = Modality.FACE

    def header_fields(self) -> dict[str, Any]:
        """The record header's fields by name (the 2011 edition's flags only in 2011 records)."""
        out: dict[str, Any] = {"images": len(self.images)}
        if self.format.endswith("2011"):
            out.update(certification_flag=self.certification_flag,
                       temporal_semantics=self.temporal_semantics)
        return out


# --- payload headers (read before any decoding) ----------------------------------------------
def payload_dimensions(data: bytes, kind: str) -> tuple[int, int, int]:
    """(width, height, components) from the payload's own header, read by the shared
    `image_payload` reader (the same bomb checks as every other record format)."""
    if kind not in (JPEG, JPEG2000, PNG):
        raise TemplateFormatError(f"unsupported image payload kind {kind!r}", field="image data type")
    head = image_payload.payload_header(data, kind)
    return head.width, head.height, head.channels


def decode_payload(data: bytes, kind: str, width: int, height: int,
                   max_pixels: int = MAX_DECODED_PIXELS) -> np.ndarray:
    import imagecodecs

    pw, ph, comps = payload_dimensions(data, kind)
    if (pw, ph) != (width, height):
        raise TemplateFormatError(
            f"the {kind} payload is {pw}x{ph} but the record says {width}x{height}",
            field="image data", hint="the record or its image was altered; refused before decoding")
    if comps not in (1, 3, 4) or pw * ph * comps > max_pixels * 3:
        raise TemplateFormatError(f"the {kind} payload ({pw}x{ph}, {comps} components) exceeds the "
                                  f"{max_pixels}-pixel decoding limit", field="image data",
                                  hint="refused before decoding (possible decompression bomb)")
    if pw * ph > max_pixels:
        raise TemplateFormatError(f"the {pw}x{ph} image exceeds the {max_pixels}-pixel decoding limit",
                                  field="image data", hint="refused before decoding")
    try:
        if kind == JPEG:
            image = imagecodecs.jpeg8_decode(data)
        elif kind == JPEG2000:
            image = imagecodecs.jpeg2k_decode(data)
        else:
            image = imagecodecs.png_decode(data)
    except Exception as exc:   # the codec library's own error types vary by version
        raise TemplateFormatError(f"the embedded {kind} image cannot be decoded: {exc}",
                                  field="image data", hint="the image bytes are corrupt or truncated") from exc
    image = np.asarray(image)
    if image.shape[:2] != (height, width):
        raise TemplateFormatError(f"the decoded image is {image.shape[1]}x{image.shape[0]}, the "
                                  f"record says {width}x{height}", field="image data")
    if image.dtype != np.uint8:   # more than 8 bits per sample: scale to the image's range
        image = (image.astype(np.float64) * (255.0 / max(1.0, float(image.max())))).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return np.ascontiguousarray(image)


def encode_payload(image: np.ndarray, kind: str, *, quality: int = 90) -> bytes:
    """JPEG (lossy, `quality`), lossless JPEG 2000 (JP2, reversible 5/3) or PNG bytes of a uint8 image."""
    import imagecodecs

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise TemplateFormatError("a face image is a uint8 (H, W) or (H, W, 3) RGB array",
                                  field="image data")
    if kind == JPEG:
        return bytes(imagecodecs.jpeg8_encode(image, level=int(quality)))
    if kind == JPEG2000:
        return bytes(imagecodecs.jpeg2k_encode(image, level=0, codecformat="jp2", reversible=True))
    if kind == PNG:
        return bytes(imagecodecs.png_encode(image))
    raise TemplateFormatError(f"unsupported image payload kind {kind!r}", field="image data type")

"""What the record keeps beside each image: every template the registered extractor gives,
encoded (format name -> bytes).

- fingerprint: the ISO/IEC 19794-2:2011 finger minutiae record of the view;
- any other modality whose template has `to_bytes()` (the iris code and mask, face and
  signature templates when their providers are registered): that encoding, under
  `biocap-<modality>:<template type>` (e.g. `biocap-iris:IrisTemplate`);
- the face, besides: its ISO/IEC 19794-5:2011 token frontal image record (`face_token_record`:
  the image cut, turned and scaled from the eye centres, lossless JPEG 2000, the eye centres as
  feature points 12.1 / 12.2), under `iso19794-5:2011-token`.
"""
from __future__ import annotations

from typing import Any

from ..types import Modality

ISO_FINGER = "iso19794-2:2011"


def template_format(modality: Modality, template: Any) -> str:
    return f"biocap-{Modality(modality).value}:{type(template).__name__}"


def template_records(modality: Modality, template: Any) -> dict[str, bytes]:
    modality = Modality(modality)
    if modality is Modality.FINGERPRINT:
        from ..templates.formats import encode
        from ..templates.formats.record import FingerprintRecord
        record = FingerprintRecord.from_templates([template], format=ISO_FINGER)
        return {ISO_FINGER: encode(record, ISO_FINGER)}
    to_bytes = getattr(template, "to_bytes", None)
    if callable(to_bytes):
        return {template_format(modality, template): bytes(to_bytes())}
    return {}


ISO_FACE_TOKEN = "iso19794-5:2011-token"
#: MPEG-4 feature points of the eye centres (ISO/IEC 19794-5: 12.1 left eye, 12.2 right eye)
EYE_CENTRE_POINTS = {"left": (12 << 4) | 1, "right": (12 << 4) | 2}


def face_token_record(sample: Any) -> dict[str, bytes]:
    """The face sample's ISO/IEC 19794-5:2011 token frontal image record (one image, type 2 =
    token frontal, lossless JPEG 2000, eye centres as feature points)."""
    from ..templates.face.token import token_image
    from ..templates.formats import FaceImage, FaceImageRecord, encode
    from ..templates.formats._face_common import JPEG2000, FeaturePoint

    token = token_image(sample)
    points = [FeaturePoint(1, EYE_CENTRE_POINTS[side], int(round(x)), int(round(y)))
              for side, (x, y) in (("left", token.left_eye), ("right", token.right_eye))]
    image = FaceImage.from_array(token.image, JPEG2000, face_image_type=2, feature_points=points)
    return {ISO_FACE_TOKEN: encode(FaceImageRecord([image], format="iso19794-5:2011"))}

"""What the record keeps beside each image: every template the registered extractor gives,
encoded (format name -> bytes).

- fingerprint: the ISO/IEC 19794-2:2011 finger minutiae record of the view;
- iris: the iris code and mask (`biocap-iriscode:1`, below);
- any modality whose template has `to_bytes()` (face, signature... when their providers are
  registered): that encoding, under `biocap-<modality>:<template type>`.
"""
from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from ..errors import TemplateFormatError
from ..types import Modality

IRIS_CODE_FORMAT = "biocap-iriscode:1"
_IRIS_MAGIC = b"BIC1"


def template_records(modality: Modality, template: Any) -> dict[str, bytes]:
    modality = Modality(modality)
    if modality is Modality.FINGERPRINT:
        from ..templates.formats import encode
        from ..templates.formats.record import FingerprintRecord
        record = FingerprintRecord.from_templates([template], format="iso19794-2:2011")
        return {"iso19794-2:2011": encode(record, "iso19794-2:2011")}
    to_bytes = getattr(template, "to_bytes", None)
    if callable(to_bytes):
        return {f"biocap-{modality.value}:{type(template).__name__}": bytes(to_bytes())}
    if modality is Modality.IRIS:
        return {IRIS_CODE_FORMAT: encode_iris_code(template)}
    return {}


def encode_iris_code(t: Any) -> bytes:
    header = json.dumps({"rows": int(t.rows), "cols": int(t.cols),
                         "bits_per_sample": int(t.bits_per_sample), "position": int(t.position),
                         "image_size": list(map(int, t.image_size)),
                         "quality": None if t.quality is None else int(t.quality)}).encode()
    code, mask = np.asarray(t.code, np.uint8).tobytes(), np.asarray(t.mask, np.uint8).tobytes()
    return _IRIS_MAGIC + struct.pack("<III", len(header), len(code), len(mask)) + header + code + mask


def decode_iris_code(data: bytes):
    from ..templates.iris.template import IrisTemplate
    if len(data) < 16 or data[:4] != _IRIS_MAGIC:
        raise TemplateFormatError("not a biocap iris code record", field="magic", offset=0)
    nh, nc, nm = struct.unpack_from("<III", data, 4)
    if 16 + nh + nc + nm != len(data) or nc != nm or nc > 1 << 20 or nh > 4096:
        raise TemplateFormatError("iris code record lengths do not add up", field="lengths", offset=4)
    try:
        h = json.loads(data[16:16 + nh])
    except ValueError as exc:
        raise TemplateFormatError(f"iris code header is not JSON: {exc}", field="header", offset=16)
    code = np.frombuffer(data, np.uint8, nc, 16 + nh).copy()
    mask = np.frombuffer(data, np.uint8, nm, 16 + nh + nc).copy()
    return IrisTemplate(code, mask, h["rows"], h["cols"], h["bits_per_sample"], h["position"],
                        tuple(h["image_size"]), {}, h["quality"])

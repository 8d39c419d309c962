"""What the record keeps beside each image: every template the registered extractor gives,
encoded (format name -> bytes).

- fingerprint: the ISO/IEC 19794-2:2011 finger minutiae record of the view;
- any other modality whose template has `to_bytes()` (the iris code and mask, face and
  signature templates when their providers are registered): that encoding, under
  `biocap-<modality>:<template type>` (e.g. `biocap-iris:IrisTemplate`).
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

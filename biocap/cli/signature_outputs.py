"""What the desk writes beside a captured signature's pen series: the ISO/IEC 19794-7 record and
the card's signature image (used by `biocap demo`, and by the station's enrolment later)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2

from ..errors import InvalidDataError
from ..templates.formats import encode
from ..templates.formats.iso19794_7_2007 import SignatureRecord
from ..templates.signature import render_signature
from ..types import Sample

#: the e-KTP card's signature box (mm) and print resolution
CARD_BOX_MM = (40.0, 15.0)
CARD_DPI = 300.0


def write_signature_outputs(sample: Sample, out: Path, stem: str) -> dict[str, Path]:
    """Write `<stem>.iso19794-7` and `<stem>_card.png` (files 0600: personal data)."""
    pad = sample.metadata.get("pad") or {}
    record = SignatureRecord.from_pen(sample.pen, units_per_mm=float(pad.get("units_per_mm", 100.0)))
    paths = {"iso19794_7": out / f"{stem}.iso19794-7", "card_image": out / f"{stem}_card.png"}
    paths["iso19794_7"].write_bytes(encode(record))
    image = render_signature(sample.pen, width_mm=CARD_BOX_MM[0], height_mm=CARD_BOX_MM[1],
                             dpi=CARD_DPI, y_up=bool(pad.get("y_up", False)))
    if not cv2.imwrite(str(paths["card_image"]), image):
        raise InvalidDataError(f"could not write {paths['card_image']}")
    for p in paths.values():
        os.chmod(p, 0o600)
    return paths

"""A finger minutiae record as the standards define it: header fields plus a list of views.

Each view is a `FingerprintTemplate` in biocap's own units (pixels of the view's image, radians
counter-clockwise); codecs convert to and from each standard's units. Fields a standard keeps per
view (ANSI 378-2009 and ISO 19794-2:2011 put image size and resolution there) live on the view;
format-specific extras live in `FingerprintTemplate.extended` under documented keys:

- ``ridge_counts``: ``{"method": int, "edges": [(from_index, to_index, count), ...]}``
- ``vendor_blocks``: ``[{"type": int, "data": bytes}, ...]`` (unknown extended data, kept as bytes)
- ``block_order``: extended-data block type codes in the order the record held them
- ``resolution_ppcm``: ``(x, y)`` resolution in pixels per centimetre as the record stored it
- ``quality_vendor``, ``quality_algorithm``, ``quality_code``: ANSI 378-2009 finger quality source
- ``quality_records``: ``[(quality, vendor, algorithm), ...]`` (ISO 19794-2:2011)
- ``capture_datetime``, ``sensor_type``, ``sensor_vendor``, ``sensor_id``, ``certificates``,
  ``ending_type``: ISO 19794-2:2011 per-view header fields
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidDataError
from ..fingerprint.template import FingerprintTemplate


@dataclass
class FingerprintRecord:
    """Header fields of a finger minutiae record plus its finger views."""

    format: str
    views: list[FingerprintTemplate] = field(default_factory=list)
    version: str = ""                # version bytes as stored, e.g. " 20", "030", "035"
    cbeff_owner: int = 0             # CBEFF product identifier owner (ANSI "vendor id")
    cbeff_type: int = 0              # CBEFF product identifier type (ANSI "subformat")
    equipment_id: int = 0            # capture equipment (sensor) id
    equipment_compliance: int = 0    # 4-bit compliance / certification flags (8 = certified)
    width: int | None = None         # record-level image size (2004/2005 formats)
    height: int | None = None
    resolution_x: int | None = None  # record-level resolution, pixels per centimetre
    resolution_y: int | None = None
    notes: list[str] = field(default_factory=list)   # leniencies the decoder applied
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.views, list) or not all(
                isinstance(v, FingerprintTemplate) for v in self.views):
            raise InvalidDataError("FingerprintRecord.views must be a list of FingerprintTemplate")

    @property
    def sensor_certified(self) -> bool:
        return bool(self.equipment_compliance & 0x8)

    @classmethod
    def from_templates(cls, views: list[FingerprintTemplate], format: str = "",
                       **header: Any) -> "FingerprintRecord":
        """A record around templates (e.g. fresh from extraction), header taken from the first."""
        if not views:
            raise InvalidDataError("a record needs at least one finger view")
        first = views[0]
        header.setdefault("width", first.width)
        header.setdefault("height", first.height)
        ppcm = round(first.ppi / 2.54)
        header.setdefault("resolution_x", ppcm)
        header.setdefault("resolution_y", ppcm)
        return cls(format=format, views=list(views), **header)

    def header_fields(self) -> dict[str, Any]:
        """The header as plain JSON-friendly values (for `biocap template info`)."""
        return {
            "version": self.version.strip(),
            "cbeff_product_owner": self.cbeff_owner,
            "cbeff_product_type": self.cbeff_type,
            "capture_equipment_id": self.equipment_id,
            "capture_equipment_compliance": self.equipment_compliance,
            "sensor_certified": self.sensor_certified,
            "width": self.width,
            "height": self.height,
            "resolution_x_ppcm": self.resolution_x,
            "resolution_y_ppcm": self.resolution_y,
            **{k: v for k, v in self.extra.items() if isinstance(v, (int, float, str, bool))},
        }

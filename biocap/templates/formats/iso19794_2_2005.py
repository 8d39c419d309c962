"""ISO/IEC 19794-2:2005 finger minutiae record, off-card ("FMR\\0 20\\0").

    magic 8 | length u32 | equipment u16 (compliance:4 id:12) | width u16 | height u16
    x res u16 | y res u16 (px/cm) | view count u8 | reserved u8 | views (see _legacy_view)

Angles in 360/256-degree units. Also reads the dialect NIST NBIS (nbis-py) writes, which lacks
the view count/reserved bytes and the extended-data length (`decode_nbis`), and can write it
(`encode_nbis`) so NBIS's loader, which reads that dialect only, gets a record it understands.
"""
from __future__ import annotations

from ...errors import TemplateFormatError
from ..fingerprint.template import FingerprintTemplate
from ._binary import Reader, Writer, fail
from ._fmr_common import (ISO_ANGLE_STEPS, check_content_end, check_declared_length,
                          common_geometry, ppcm_from_view, ppi_from_ppcm,
                          read_capture_geometry, read_minutiae, write_capture_equipment,
                          write_image_geometry, write_minutiae)
from ._legacy_view import finger_quality_code, read_view_block, write_view_block
from .record import FingerprintRecord

NAME = "iso19794-2:2005"
MAGICS = (b"FMR\x00 20\x00", b"FMR\x00020\x00")
HEADER_BYTES = 24
NBIS_HEADER_BYTES = 26  # 22-byte header, position, view/impression, quality, count


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    """Decode the standard layout, or the NBIS dialect when only that explains the bytes."""
    try:
        return _decode_standard(data, strict)
    except TemplateFormatError:
        if looks_like_nbis(data):
            return decode_nbis(data, strict=strict)
        raise


def _decode_standard(data: bytes, strict: bool) -> FingerprintRecord:
    r = Reader(data)
    magic = r.take(8, "format_identifier")
    if magic not in MAGICS:
        raise fail("not an ISO/IEC 19794-2:2005 record (format identifier)",
                   "format_identifier", 0)
    declared = r.u32("record_length")
    check_declared_length(declared, len(data), HEADER_BYTES, "record_length", 8)
    notes: list[str] = []
    rec = FingerprintRecord(format=NAME, version=magic[4:7].decode("latin-1"), notes=notes)
    read_capture_geometry(r, rec, notes)
    read_view_block(r, rec, strict=strict, notes=notes, steps=ISO_ANGLE_STEPS, flavor="iso",
                    convention="auto")
    check_content_end(r.pos, declared, len(data), notes, "record_length", 8)
    return rec


def encode(record: FingerprintRecord) -> bytes:
    width, height, _ = common_geometry(record.views)
    ppcm_x, ppcm_y = ppcm_from_view(record.views[0])
    body = Writer()
    write_capture_equipment(body, record)
    write_image_geometry(body, width, height, ppcm_x, ppcm_y)
    write_view_block(body, record.views, width=width, height=height, steps=ISO_ANGLE_STEPS,
                     flavor="iso", convention="auto")
    version = record.version if record.format == NAME and len(record.version) == 3 else " 20"
    out = Writer()
    out.raw(b"FMR\x00" + version.encode("latin-1") + b"\x00")
    out.u32(12 + body.size, "record_length")
    out.raw(body.getvalue())
    return out.getvalue()


# --- the NBIS dialect -------------------------------------------------------------------------
def looks_like_nbis(data: bytes) -> bool:
    """True when the bytes have the exact size the NBIS dialect implies for its minutia count."""
    return (len(data) >= NBIS_HEADER_BYTES and data[:8] in MAGICS
            and len(data) == NBIS_HEADER_BYTES + 6 * data[25]
            and int.from_bytes(data[8:12], "big") == len(data))


def decode_nbis(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    """Read the single-view record nbis-py's `to_iso_19794_2_2005()` writes."""
    r = Reader(data)
    magic = r.take(8, "format_identifier")
    declared = r.u32("record_length")
    check_declared_length(declared, len(data), NBIS_HEADER_BYTES, "record_length", 8)
    notes = ["NBIS dialect of ISO/IEC 19794-2:2005 (no view count, no extended-data length)"]
    rec = FingerprintRecord(format=NAME, version=magic[4:7].decode("latin-1"), notes=notes)
    rec.extra["dialect"] = "nbis"
    read_capture_geometry(r, rec, notes)
    position = r.u8("finger_position")
    view_imp = r.u8("view_and_impression")
    quality = r.u8("finger_quality")
    count = r.u8("minutiae_count")
    minutiae = read_minutiae(r, count, steps=ISO_ANGLE_STEPS, with_quality=True,
                             width=rec.width, height=rec.height, strict=strict)
    check_content_end(r.pos, declared, len(data), notes, "record_length", 8)
    rec.views = [FingerprintTemplate(minutiae, rec.width, rec.height,
                                     ppi_from_ppcm(rec.resolution_x), position=position,
                                     view=view_imp >> 4, impression_type=view_imp & 0x0F,
                                     quality=quality if quality <= 100 else None,
                                     extended={"resolution_ppcm": (rec.resolution_x,
                                                                   rec.resolution_y)})]
    return rec


def encode_nbis(view: FingerprintTemplate) -> bytes:
    """One view in the dialect NBIS's `load_iso_19794_2_2005` reads (it rejects the standard)."""
    ppcm_x, ppcm_y = ppcm_from_view(view)
    body = Writer()
    body.u16(0, "capture_equipment")
    write_image_geometry(body, view.width, view.height, ppcm_x, ppcm_y)
    body.u8(view.position, "finger_position")
    body.u8(((view.view & 0xF) << 4) | (view.impression_type & 0xF), "view_and_impression")
    body.u8(finger_quality_code(view, 0), "finger_quality")
    body.u8(len(view.minutiae), "minutiae_count")
    write_minutiae(body, view.minutiae, steps=ISO_ANGLE_STEPS, with_quality=True,
                   width=view.width, height=view.height, quality_for_unreported=0,
                   max_quality=255)
    out = Writer()
    out.raw(MAGICS[0])
    out.u32(12 + body.size, "record_length")
    out.raw(body.getvalue())
    return out.getvalue()

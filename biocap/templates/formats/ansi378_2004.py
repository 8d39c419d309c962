"""ANSI INCITS 378-2004 finger minutiae record ("FMR\\0 20\\0").

    magic 8 | length u16 (0 => u32 follows) | CBEFF owner u16 | CBEFF type u16
    equipment u16 (compliance:4 id:12) | width u16 | height u16 | x res u16 | y res u16 (px/cm)
    view count u8 | reserved u8 | views (see _legacy_view)

Angles in 2-degree units. Shares its magic with ISO/IEC 19794-2:2005; `probe` tells them apart.
"""
from __future__ import annotations

from ._binary import Reader, Writer, fail
from ._fmr_common import (ANSI_ANGLE_STEPS, check_content_end, check_declared_length,
                          common_geometry, ppcm_from_view, read_capture_geometry,
                          write_capture_equipment, write_image_geometry)
from ._legacy_view import read_view_block, write_view_block
from .record import FingerprintRecord

NAME = "ansi378:2004"
MAGICS = (b"FMR\x00 20\x00", b"FMR\x00020\x00")
HEADER_BYTES = 26


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    r = Reader(data)
    magic = r.take(8, "format_identifier")
    if magic not in MAGICS:
        raise fail("not an ANSI INCITS 378-2004 record (format identifier)", "format_identifier", 0)
    declared = r.u16("record_length")
    if declared == 0:  # long form: a 4-byte length follows
        declared = r.u32("record_length")
    check_declared_length(declared, len(data), HEADER_BYTES, "record_length", 8)
    notes: list[str] = []
    rec = FingerprintRecord(format=NAME, version=magic[4:7].decode("latin-1"), notes=notes)
    rec.extra["long_length"] = r.pos == 14
    rec.cbeff_owner = r.u16("cbeff_product_owner")
    rec.cbeff_type = r.u16("cbeff_product_type")
    read_capture_geometry(r, rec, notes)
    read_view_block(r, rec, strict=strict, notes=notes, steps=ANSI_ANGLE_STEPS, flavor="ansi",
                    convention="block")
    check_content_end(r.pos, declared, len(data), notes, "record_length", 8)
    return rec


def encode(record: FingerprintRecord) -> bytes:
    width, height, ppi = common_geometry(record.views)
    ppcm_x, ppcm_y = ppcm_from_view(record.views[0])
    body = Writer()
    body.u16(record.cbeff_owner, "cbeff_product_owner")
    body.u16(record.cbeff_type, "cbeff_product_type")
    write_capture_equipment(body, record)
    write_image_geometry(body, width, height, ppcm_x, ppcm_y)
    write_view_block(body, record.views, width=width, height=height, steps=ANSI_ANGLE_STEPS,
                     flavor="ansi", convention="block")
    version = record.version if record.format == NAME and len(record.version) == 3 else " 20"
    out = Writer()
    out.raw(b"FMR\x00" + version.encode("latin-1") + b"\x00")
    total = 8 + 2 + body.size
    if total < 0x10000 and not record.extra.get("long_length"):
        out.u16(total, "record_length")
    else:
        out.u16(0, "record_length")
        out.u32(total + 4, "record_length")
    out.raw(body.getvalue())
    return out.getvalue()

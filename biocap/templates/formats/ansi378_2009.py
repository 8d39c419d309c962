"""ANSI INCITS 378-2009 finger minutiae record ("FMR\\0" "030\\0"), also with Amendment 1 ("035").

    magic 8 | length u32 | CBEFF owner u16 | CBEFF type u16 | certification u8 (0x80 certified)
    sensor id u16 | view count u8 | reserved u8 | views

    view: position u8 | view u8 | impression u8 | quality u8 | quality vendor u16
          quality algorithm u16 | width u16 | height u16 | x res u16 | y res u16 (px/cm)
          minutiae count u8 | minutiae (6 bytes) | extended data length u16 | blocks

Angles in 2-degree units; minutia/finger quality 254 = not reported, 255 = failed. AM1 adds the
multi-finger position codes 40-50. `ansi378:2007` is the pre-publication layout NIST's
libbiomeval calls ANSI 2007 (same version bytes "030", 2-byte capture-equipment field instead of
certification + sensor id); it is read and written so NIST's test records round-trip.
"""
from __future__ import annotations

from ..fingerprint.template import FingerprintTemplate, SingularPoint
from ._binary import Reader, Writer, fail
from ._fmr_common import (ANSI_ANGLE_STEPS, NOT_REPORTED, POSITIONS_AM1, POSITIONS_BASE,
                          check_content_end, check_declared_length, check_image_size,
                          check_position, check_position_to_write, check_view_count,
                          ppcm_from_view, ppi_from_ppcm, read_capture_equipment, read_extended,
                          read_minutiae, resolution_or_default, write_capture_equipment,
                          write_extended, write_minutiae)
from ._legacy_view import finger_quality_code, finger_quality_from_code
from .record import FingerprintRecord

NAME = "ansi378:2009"
NAME_AM1 = "ansi378:2009am1"
NAME_2007 = "ansi378:2007"
VERSIONS = {NAME: b"030", NAME_AM1: b"035", NAME_2007: b"030"}
HEADER_BYTES = {NAME: 21, NAME_AM1: 21, NAME_2007: 20}
MIN_VIEW_BYTES = 21
QUALITY_NOT_REPORTED = 254


def decode(data: bytes, *, strict: bool = True, name: str = NAME) -> FingerprintRecord:
    r = Reader(data)
    magic = r.take(8, "format_identifier")
    if magic != b"FMR\x00" + VERSIONS[name] + b"\x00":
        raise fail(f"not an {name} record (format identifier)", "format_identifier", 0)
    declared = r.u32("record_length")
    check_declared_length(declared, len(data), HEADER_BYTES[name], "record_length", 8)
    notes: list[str] = []
    rec = FingerprintRecord(format=name, version=VERSIONS[name].decode(), notes=notes)
    rec.cbeff_owner = r.u16("cbeff_product_owner")
    rec.cbeff_type = r.u16("cbeff_product_type")
    if name == NAME_2007:
        read_capture_equipment(r, rec)
    else:
        rec.equipment_compliance = r.u8("sensor_certification") >> 4
        rec.equipment_id = r.u16("sensor_id")
    count = r.u8("view_count")
    check_view_count(count, strict, r.pos - 1)
    r.u8("reserved")
    r.need(count * MIN_VIEW_BYTES, f"views[{count}]")
    positions = POSITIONS_AM1 if name == NAME_AM1 else POSITIONS_BASE
    rec.views = [_read_view(r, i, positions, notes, strict, tail=i == count - 1)
                 for i in range(count)]
    check_content_end(r.pos, declared, len(data), notes, "record_length", 8)
    if rec.views:
        first = rec.views[0]
        rec.width, rec.height = first.width, first.height
        rec.resolution_x, rec.resolution_y = first.extended["resolution_ppcm"]
    return rec


def _read_view(r: Reader, i: int, positions: frozenset, notes: list[str],
               strict: bool, tail: bool) -> FingerprintTemplate:
    start = r.pos
    position = check_position(r.u8(f"views[{i}].finger_position"), positions,
                              f"views[{i}].finger_position", start)
    view_number = r.u8(f"views[{i}].view_number")
    impression = r.u8(f"views[{i}].impression_type")
    quality = r.u8(f"views[{i}].finger_quality")
    extended: dict = {"quality_vendor": r.u16(f"views[{i}].quality_vendor"),
                      "quality_algorithm": r.u16(f"views[{i}].quality_algorithm")}
    size_offset = r.pos
    width, height = r.u16(f"views[{i}].width"), r.u16(f"views[{i}].height")
    check_image_size(width, height, size_offset)
    ppcm = resolution_or_default(r.u16(f"views[{i}].resolution_x"),
                                 r.u16(f"views[{i}].resolution_y"), notes)
    extended["resolution_ppcm"] = ppcm
    count = r.u8(f"views[{i}].minutiae_count")
    minutiae = read_minutiae(r, count, steps=ANSI_ANGLE_STEPS, with_quality=True, width=width,
                             height=height, quality_map={QUALITY_NOT_REPORTED: NOT_REPORTED},
                             strict=strict, extended=extended, notes=notes)
    singular: list[SingularPoint] = []
    read_extended(r, extended, singular, flavor="ansi", notes=notes, tail=tail)
    return FingerprintTemplate(minutiae, width, height, ppi_from_ppcm(ppcm[0]),
                               position=position, view=view_number, impression_type=impression,
                               quality=finger_quality_from_code(quality, extended),
                               singular_points=singular, extended=extended)


def encode(record: FingerprintRecord, *, name: str = NAME) -> bytes:
    if not record.views and name == NAME_AM1:
        raise fail("ANSI 378-2009/AM1 requires at least one finger view", "views", 0)
    body = Writer()
    body.u16(record.cbeff_owner, "cbeff_product_owner")
    body.u16(record.cbeff_type, "cbeff_product_type")
    if name == NAME_2007:
        write_capture_equipment(body, record)
    else:
        body.u8((record.equipment_compliance & 0xF) << 4, "sensor_certification")
        body.u16(record.equipment_id, "sensor_id")
    body.u8(len(record.views), "view_count")
    body.u8(0, "reserved")
    positions = POSITIONS_AM1 if name == NAME_AM1 else POSITIONS_BASE
    for i, view in enumerate(record.views):
        check_position_to_write(view.position, positions, i)
        _write_view(body, view, i)
    out = Writer()
    out.raw(b"FMR\x00" + VERSIONS[name] + b"\x00")
    out.u32(12 + body.size, "record_length")
    out.raw(body.getvalue())
    return out.getvalue()


def _write_view(out: Writer, view: FingerprintTemplate, i: int) -> None:
    ppcm_x, ppcm_y = ppcm_from_view(view)
    out.u8(view.position, f"views[{i}].finger_position")
    out.u8(view.view, f"views[{i}].view_number")
    out.u8(view.impression_type, f"views[{i}].impression_type")
    out.u8(finger_quality_code(view, QUALITY_NOT_REPORTED), f"views[{i}].finger_quality")
    out.u16(view.extended.get("quality_vendor", 0), f"views[{i}].quality_vendor")
    out.u16(view.extended.get("quality_algorithm", 0), f"views[{i}].quality_algorithm")
    for value, field in ((view.width, "width"), (view.height, "height"),
                         (ppcm_x, "resolution_x"), (ppcm_y, "resolution_y")):
        out.u16(value, f"views[{i}].{field}")
    out.u8(len(view.minutiae), f"views[{i}].minutiae_count")
    write_minutiae(out, view.minutiae, steps=ANSI_ANGLE_STEPS, with_quality=True,
                   width=view.width, height=view.height,
                   quality_for_unreported=QUALITY_NOT_REPORTED,
                   raw_angles=view.extended.get("angle_units_raw"))
    write_extended(out, view, flavor="ansi")

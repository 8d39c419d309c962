"""ISO/IEC 19794-2:2011 finger minutiae record, off-card ("FMR\\0" "030\\0").

General header (ISO/IEC 19794-1:2011): magic 8 | length u32 | view count u16 | certification
flag u8. Each view:

    view length u32 | capture date-time 9 (year u16, month, day, hour, minute, second u8,
    millisecond u16; 0xFF.. = absent) | sensor type u8 | sensor vendor u16 | sensor id u16
    quality record count u8 | (quality u8, vendor u16, algorithm u16) each
    [certificate count u8 | (authority u16, scheme u8) each]   -- only with certification flag
    position u8 | view u8 | x res u16 | y res u16 (px/cm) | impression u8 | width u16 | height u16
    minutia record size:4 | ridge ending type:4 | minutiae count u8 | minutiae (5 or 6 bytes)
    extended data length u16 | blocks

Angles in 360/256-degree units; minutia quality 254 = not reported, 255 = failed.
"""
from __future__ import annotations

import numpy as np

from ..fingerprint.template import FingerprintTemplate, SingularPoint
from ._binary import Reader, Writer, fail
from ._fmr_common import (ISO_ANGLE_STEPS, NOT_REPORTED, POSITIONS_BASE, check_content_end,
                          check_declared_length, check_image_size, check_position,
                          check_position_to_write, check_view_count, ppcm_from_view,
                          ppi_from_ppcm, read_extended, read_minutiae, resolution_or_default,
                          write_extended, write_minutiae)
from .record import FingerprintRecord

NAME = "iso19794-2:2011"
MAGIC = b"FMR\x00030\x00"
HEADER_BYTES = 15
MIN_VIEW_BYTES = 34
QUALITY_NOT_REPORTED = 254
NO_DATETIME = (0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFFFF)


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    r = Reader(data)
    if r.take(8, "format_identifier") != MAGIC:
        raise fail("not an ISO/IEC 19794-2:2011 record (format identifier)",
                   "format_identifier", 0)
    declared = r.u32("record_length")
    check_declared_length(declared, len(data), HEADER_BYTES, "record_length", 8)
    notes: list[str] = []
    rec = FingerprintRecord(format=NAME, version="030", notes=notes)
    count = r.u16("view_count")
    check_view_count(count, strict, r.pos - 2)
    certified = r.u8("certification_flag")
    if certified > 1:
        raise fail(f"certification flag {certified} is neither 0 nor 1", "certification_flag",
                   r.pos - 1)
    rec.extra["certification_flag"] = certified
    r.need(count * MIN_VIEW_BYTES, f"views[{count}]")
    rec.views = [_read_view(r, i, bool(certified), notes, strict) for i in range(count)]
    check_content_end(r.pos, declared, len(data), notes, "record_length", 8)
    if rec.views:
        first = rec.views[0]
        rec.width, rec.height = first.width, first.height
        rec.resolution_x, rec.resolution_y = first.extended["resolution_ppcm"]
        rec.equipment_id = first.extended["sensor_id"]
    return rec


def _read_view(r: Reader, i: int, certified: bool, notes: list[str],
               strict: bool) -> FingerprintTemplate:
    start = r.pos
    length = r.u32(f"views[{i}].length")
    if length < MIN_VIEW_BYTES:
        raise fail(f"view length {length} is below the {MIN_VIEW_BYTES}-byte minimum",
                   f"views[{i}].length", start)
    v = r.sub(length - 4, f"views[{i}]")   # everything the view claims, bounded by the data
    ext: dict = {}
    ext["capture_datetime"] = (v.u16("datetime.year"), v.u8("datetime.month"),
                               v.u8("datetime.day"), v.u8("datetime.hour"),
                               v.u8("datetime.minute"), v.u8("datetime.second"),
                               v.u16("datetime.millisecond"))
    ext["sensor_type"] = v.u8(f"views[{i}].sensor_type")
    ext["sensor_vendor"] = v.u16(f"views[{i}].sensor_vendor")
    ext["sensor_id"] = v.u16(f"views[{i}].sensor_id")
    n_quality = v.u8(f"views[{i}].quality_record_count")
    ext["quality_records"] = [(v.u8("quality.score"), v.u16("quality.vendor"),
                               v.u16("quality.algorithm")) for _ in range(n_quality)]
    if certified:
        n_cert = v.u8(f"views[{i}].certificate_count")
        ext["certificates"] = [(v.u16("certificate.authority"), v.u8("certificate.scheme"))
                               for _ in range(n_cert)]
    pos_offset = v.pos
    position = check_position(v.u8(f"views[{i}].finger_position"), POSITIONS_BASE,
                              f"views[{i}].finger_position", pos_offset)
    view_number = v.u8(f"views[{i}].view_number")
    ppcm = resolution_or_default(v.u16(f"views[{i}].resolution_x"),
                                 v.u16(f"views[{i}].resolution_y"), notes)
    ext["resolution_ppcm"] = ppcm
    impression = v.u8(f"views[{i}].impression_type")
    size_offset = v.pos
    width, height = v.u16(f"views[{i}].width"), v.u16(f"views[{i}].height")
    check_image_size(width, height, size_offset)
    flags_offset = v.pos
    flags = v.u8(f"views[{i}].minutia_field_length")
    size = flags >> 4
    if size not in (5, 6):
        raise fail(f"minutia record size {size} is neither 5 nor 6 bytes",
                   f"views[{i}].minutia_field_length", flags_offset)
    ext["ending_type"] = flags & 0x0F
    count = v.u8(f"views[{i}].minutiae_count")
    minutiae = read_minutiae(v, count, steps=ISO_ANGLE_STEPS, with_quality=size == 6,
                             width=width, height=height,
                             quality_map={QUALITY_NOT_REPORTED: NOT_REPORTED}, strict=strict)
    singular: list[SingularPoint] = []
    read_extended(v, ext, singular, flavor="iso", notes=notes)
    if v.remaining:
        raise fail(f"view length {length} leaves {v.remaining} bytes after the view's content",
                   f"views[{i}].length", start)
    quality = next((q for q, _, _ in ext["quality_records"] if q <= 100), None)
    return FingerprintTemplate(minutiae, width, height, ppi_from_ppcm(ppcm[0]),
                               position=position, view=view_number, impression_type=impression,
                               quality=quality, singular_points=singular, extended=ext)


def encode(record: FingerprintRecord) -> bytes:
    certified = any(v.extended.get("certificates") for v in record.views) or \
        bool(record.extra.get("certification_flag")) and record.format == NAME
    body = Writer()
    body.u16(len(record.views), "view_count")
    body.u8(1 if certified else 0, "certification_flag")
    for i, view in enumerate(record.views):
        data = _view_bytes(view, i, record, certified)
        body.u32(len(data) + 4, f"views[{i}].length")
        body.raw(data)
    out = Writer()
    out.raw(MAGIC)
    out.u32(12 + body.size, "record_length")
    out.raw(body.getvalue())
    return out.getvalue()


def _view_bytes(view: FingerprintTemplate, i: int, record: FingerprintRecord,
                certified: bool) -> bytes:
    ext = view.extended
    w = Writer()
    dt = ext.get("capture_datetime", NO_DATETIME)
    w.u16(dt[0], "datetime.year")
    for value, field in zip(dt[1:6], ("month", "day", "hour", "minute", "second")):
        w.u8(value, f"datetime.{field}")
    w.u16(dt[6], "datetime.millisecond")
    w.u8(ext.get("sensor_type", 0), f"views[{i}].sensor_type")
    w.u16(ext.get("sensor_vendor", 0), f"views[{i}].sensor_vendor")
    w.u16(ext.get("sensor_id", record.equipment_id), f"views[{i}].sensor_id")
    records = ext.get("quality_records")
    if records is None:
        records = [(int(view.quality), ext.get("quality_vendor", 0),
                    ext.get("quality_algorithm", 0))] if view.quality is not None else []
    w.u8(len(records), f"views[{i}].quality_record_count")
    for q, vendor, algorithm in records:
        w.u8(q, "quality.score")
        w.u16(vendor, "quality.vendor")
        w.u16(algorithm, "quality.algorithm")
    if certified:
        certs = ext.get("certificates", [])
        w.u8(len(certs), f"views[{i}].certificate_count")
        for authority, scheme in certs:
            w.u16(authority, "certificate.authority")
            w.u8(scheme, "certificate.scheme")
    ppcm_x, ppcm_y = ppcm_from_view(view)
    check_position_to_write(view.position, POSITIONS_BASE, i)
    w.u8(view.position, f"views[{i}].finger_position")
    w.u8(view.view, f"views[{i}].view_number")
    w.u16(ppcm_x, f"views[{i}].resolution_x")
    w.u16(ppcm_y, f"views[{i}].resolution_y")
    w.u8(view.impression_type, f"views[{i}].impression_type")
    w.u16(view.width, f"views[{i}].width")
    w.u16(view.height, f"views[{i}].height")
    with_quality = bool(len(view.minutiae)) and bool(
        np.any(view.minutiae["quality"] != NOT_REPORTED))
    w.u8(((6 if with_quality else 5) << 4) | (ext.get("ending_type", 0) & 0x0F),
         f"views[{i}].minutia_field_length")
    w.u8(len(view.minutiae), f"views[{i}].minutiae_count")
    write_minutiae(w, view.minutiae, steps=ISO_ANGLE_STEPS, with_quality=with_quality,
                   width=view.width, height=view.height,
                   quality_for_unreported=QUALITY_NOT_REPORTED)
    write_extended(w, view, flavor="iso")
    return w.getvalue()

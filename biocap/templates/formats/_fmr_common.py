"""Pieces the ISO/IEC 19794-2 and ANSI INCITS 378 record codecs share.

Units: ANSI 378 angles are 2-degree steps (0..179); ISO 19794-2 angles are 360/256-degree steps
(0..255); both count counter-clockwise from the x axis with y pointing down, as biocap does, so
conversion is a pure scale. Coordinates are whole pixels of the view's image.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import TemplateFormatError
from ..fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate, SingularPoint
from ._binary import Reader, Writer, fail

TWO_PI = 2.0 * math.pi
ANSI_ANGLE_STEPS = 180   # 2 degrees per unit
ISO_ANGLE_STEPS = 256    # 1.40625 degrees per unit

#: a 6-byte minutia record (type:2 x:14, reserved:2 y:14, angle, quality)
MINUTIA6 = np.dtype([("xt", ">u2"), ("yr", ">u2"), ("angle", "u1"), ("quality", "u1")])
#: the 5-byte ISO 19794-2:2011 variant without quality
MINUTIA5 = np.dtype([("xt", ">u2"), ("yr", ">u2"), ("angle", "u1")])

NOT_REPORTED = 255  # biocap's "quality not reported" for a minutia

RIDGE_COUNT_BLOCK = 0x0001
CORE_DELTA_BLOCK = 0x0002

#: finger position codes the formats define (0-10 fingers, 11-15 plain/slap codes);
#: ANSI 378-2009/AM1 adds the multi-finger codes 40-50
POSITIONS_BASE = frozenset(range(0, 16))
POSITIONS_AM1 = POSITIONS_BASE | frozenset(range(40, 51))


def angle_to_units(radians: np.ndarray, steps: int) -> np.ndarray:
    """Radians to the nearest format angle unit, wrapped into 0..steps-1."""
    units = np.rint(np.asarray(radians, dtype=np.float64) * (steps / TWO_PI)).astype(np.int64)
    return np.mod(units, steps)


def units_to_angle(units: np.ndarray, steps: int) -> np.ndarray:
    return np.asarray(units, dtype=np.float64) * (TWO_PI / steps)


def ppi_from_ppcm(ppcm: int) -> float:
    return ppcm * 2.54


def ppcm_from_view(view: FingerprintTemplate) -> tuple[int, int]:
    """The (x, y) pixels-per-cm to write: the stored pair if it still matches the view's ppi."""
    stored = view.extended.get("resolution_ppcm")
    x = round(view.ppi / 2.54)
    if stored and int(stored[0]) == x:
        return int(stored[0]), int(stored[1])
    return x, x


def check_position(code: int, allowed: frozenset, field: str, offset: int) -> int:
    if code not in allowed:
        raise fail(f"finger position code {code} is not defined by this format", field, offset)
    return code


# --- minutiae ---------------------------------------------------------------------------------
def read_minutiae(reader: Reader, count: int, *, steps: int, with_quality: bool,
                  width: int, height: int, quality_map: dict[int, int] | None = None,
                  strict: bool = True, extended: dict | None = None,
                  notes: list[str] | None = None) -> np.ndarray:
    """Decode `count` minutia records into a MINUTIA_DTYPE array (one vectorized pass).

    ANSI angle bytes above 179 are out of range; they are read modulo 360 degrees and their raw
    values kept in `extended["angle_units_raw"]` so the record re-encodes to the same bytes."""
    dtype = MINUTIA6 if with_quality else MINUTIA5
    start = reader.pos
    if strict and count == 0:
        raise fail("finger view has zero minutiae (decode with strict=False to accept it)",
                   "minutiae_count", start - 1)
    reader.need(count * dtype.itemsize, f"minutiae[{count}]")
    raw = np.frombuffer(reader.data, dtype=dtype, count=count, offset=start)
    reader.pos += count * dtype.itemsize
    types = raw["xt"] >> 14
    xs = raw["xt"] & 0x3FFF
    ys = raw["yr"] & 0x3FFF
    bad = np.flatnonzero(types == 3)
    if bad.size:
        i = int(bad[0])
        raise fail(f"minutia {i} has the reserved type code 3", f"minutiae[{i}].type",
                   start + i * dtype.itemsize)
    if strict and count:
        outside = np.flatnonzero((xs >= width) | (ys >= height))
        if outside.size:
            i = int(outside[0])
            raise fail(f"minutia {i} at ({int(xs[i])}, {int(ys[i])}) lies outside the "
                       f"{width}x{height} image", f"minutiae[{i}].x", start + i * dtype.itemsize)
    if steps < 256 and extended is not None:
        wide = np.flatnonzero(raw["angle"] >= steps)
        if wide.size:
            extended["angle_units_raw"] = {int(i): int(raw["angle"][i]) for i in wide}
            if notes is not None:
                notes.append(f"{wide.size} minutia angles exceed the format's 0-{steps - 1} "
                             f"range; read them modulo 360 degrees")
    out = np.empty(count, dtype=MINUTIA_DTYPE)
    out["x"] = xs
    out["y"] = ys
    out["angle"] = units_to_angle(raw["angle"], steps)
    out["type"] = types
    if with_quality:
        q = raw["quality"].astype(np.uint8)
        if quality_map:
            for src, dst in quality_map.items():
                q[raw["quality"] == src] = dst
        out["quality"] = q
    else:
        out["quality"] = NOT_REPORTED
    return out


def write_minutiae(out: Writer, minutiae: np.ndarray, *, steps: int, with_quality: bool,
                   width: int, height: int, quality_for_unreported: int,
                   max_quality: int = 100, raw_angles: dict | None = None) -> None:
    """Encode minutiae (vectorized); raise naming the first minutia the format cannot hold."""
    m = minutiae
    n = len(m)
    if n == 0:
        raise TemplateFormatError("finger view has zero minutiae; there is nothing to encode",
                                  field="minutiae_count",
                                  hint="re-capture the finger or drop the view")
    if n > 255:
        raise TemplateFormatError(f"finger view has {n} minutiae; the formats hold at most 255",
                                  field="minutiae_count",
                                  hint="keep the 255 best minutiae (by quality)")
    # a point inside the image stays inside: x in [width - 0.5, width) rounds down, not out
    xs = np.minimum(np.rint(m["x"].astype(np.float64)), np.where(m["x"] < width, width - 1,
                                                                  np.inf)).astype(np.int64)
    ys = np.minimum(np.rint(m["y"].astype(np.float64)), np.where(m["y"] < height, height - 1,
                                                                  np.inf)).astype(np.int64)
    for name, values, limit in (("x", xs, width), ("y", ys, height)):
        bad = np.flatnonzero((values < 0) | (values >= min(limit, 1 << 14)))
        if bad.size:
            i = int(bad[0])
            raise TemplateFormatError(
                f"minutia {i} has {name} = {int(values[i])}, outside the {width}x{height} image",
                field=f"minutiae[{i}].{name}", hint="drop or clip minutiae outside the image")
    types = m["type"].astype(np.int64)
    bad = np.flatnonzero(types > 2)
    if bad.size:
        i = int(bad[0])
        raise TemplateFormatError(f"minutia {i} has type {int(types[i])}; formats hold 0-2",
                                  field=f"minutiae[{i}].type")
    record = np.empty(n, dtype=MINUTIA6 if with_quality else MINUTIA5)
    record["xt"] = (types << 14) | xs
    record["yr"] = ys
    units = angle_to_units(m["angle"], steps)
    for i, raw_units in (raw_angles or {}).items():   # out-of-range bytes the record came with
        if int(i) < n and raw_units % steps == units[int(i)]:
            units[int(i)] = raw_units
    record["angle"] = units
    if with_quality:
        q = m["quality"].astype(np.int64)
        q = np.where(q == NOT_REPORTED, quality_for_unreported, q)
        bad = np.flatnonzero((q > max_quality) & (q != quality_for_unreported))
        if bad.size:
            i = int(bad[0])
            raise TemplateFormatError(f"minutia {i} has quality {int(q[i])}; this format holds "
                                      f"0-{max_quality}", field=f"minutiae[{i}].quality")
        record["quality"] = q
    out.raw(record.tobytes())


# --- extended data blocks ---------------------------------------------------------------------
def read_extended(reader: Reader, view_extended: dict[str, Any],
                  singular: list[SingularPoint], *, flavor: str, notes: list[str],
                  convention: str = "block", tail: bool = False) -> None:
    """Read the extended-data length and its blocks (ridge counts, cores/deltas, vendor data).

    `flavor` is "ansi" (core/delta info byte with angle flag 0x40, 2-degree angles) or "iso"
    (per-point angle flag in the X word, 360/256-degree angles). `convention` says whether a
    block's length counts its 4-byte header ("block", ANSI and ISO 2011) or only its data
    ("data", ISO 2005 as written by most tools); "auto" tries "data" then "block".
    `tail`: this is the record's last view. Writers are known to get the extended-data lengths
    of the last view wrong by a byte or two (NIST's own test records do); there the blocks are
    read by their content instead, and accepted only if that content ends exactly at the
    record's end. Anywhere else a length that disagrees with the data is an error.
    """
    total = reader.u16("extended_data_length")
    if total == 0:
        return
    area_start = reader.pos
    conventions = ("data", "block") if convention == "auto" else (convention,)
    if total <= reader.remaining:
        area = reader.sub(total, "extended_data")
        error = None
        for conv in conventions:
            try:
                found, points = _read_blocks(Reader(area.data, area.pos, area.end), conv,
                                             flavor, notes, by_content=False)
            except TemplateFormatError as exc:
                error = error or exc
                continue
            _store(view_extended, singular, found, points, conv if convention == "auto" else None)
            return
    else:
        error = fail(f"extended data length {total} overruns the {reader.remaining} bytes left "
                     f"in the record", "extended_data_length", area_start - 2)
    if not tail:
        raise error
    for conv in conventions:
        try:
            found, points = _read_blocks(Reader(reader.data, area_start, reader.end), conv,
                                         flavor, notes, by_content=True)
        except TemplateFormatError:
            continue
        notes.append(f"extended data lengths of the last view disagree with its content "
                     f"({error.args[0]}); read the blocks by content, which ends at the "
                     f"record's end")
        _store(view_extended, singular, found, points, conv if convention == "auto" else None)
        reader.pos = reader.end
        return
    raise error


def _store(view_extended, singular, found, points, convention) -> None:
    view_extended.update(found)
    singular.extend(points)
    if convention:
        view_extended["block_length_convention"] = convention


def _read_blocks(blocks: Reader, conv: str, flavor: str, notes: list[str], *,
                 by_content: bool):
    found: dict[str, Any] = {}
    points: list[SingularPoint] = []
    order: list[int] = []
    vendor: list[dict[str, Any]] = []
    while blocks.remaining > 0:
        block_offset = blocks.pos
        kind = blocks.u16("extended_block.type")
        length = blocks.u16("extended_block.length")
        if conv == "block" and length < 4:
            raise fail(f"extended data block length {length} is below its own 4-byte header",
                       "extended_block.length", block_offset + 2)
        size = length - 4 if conv == "block" else length
        order.append(kind)
        if by_content and kind == CORE_DELTA_BLOCK and not points:
            body = Reader(blocks.data, blocks.pos, blocks.end)
            points.extend(_read_core_delta(body, flavor, exact=False))
            blocks.pos = body.pos
            continue
        if size > blocks.remaining:
            raise fail(f"extended data block of {size} data bytes overruns the "
                       f"{blocks.remaining} bytes left in the extended data area",
                       "extended_block.length", block_offset + 2)
        body = blocks.sub(size, "extended_block.data")
        if kind == RIDGE_COUNT_BLOCK and "ridge_counts" not in found:
            found["ridge_counts"] = _read_ridge_counts(body, notes)
        elif kind == CORE_DELTA_BLOCK and not points:
            points.extend(_read_core_delta(body, flavor))
        else:
            vendor.append({"type": kind, "data": body.take(body.remaining, "extended_block.data")})
    if vendor:
        found["vendor_blocks"] = vendor
    found["block_order"] = order
    return found, points


def _read_ridge_counts(body: Reader, notes: list[str]) -> dict[str, Any]:
    method = body.u8("ridge_counts.method")
    n = body.remaining // 3
    raw = np.frombuffer(body.data, dtype=np.uint8, count=3 * n, offset=body.pos)
    body.pos += 3 * n
    result: dict[str, Any] = {"method": method,
                              "edges": list(map(tuple, raw.reshape(-1, 3).tolist()))}
    if body.remaining:   # kept so the record re-encodes to the same bytes
        result["trailing"] = body.take(body.remaining, "ridge_counts.trailing")
        notes.append(f"ridge count block ends with {len(result['trailing'])} bytes that are "
                     f"not a whole edge; kept as they are")
    return result


def _read_core_delta(body: Reader, flavor: str, exact: bool = True) -> list[SingularPoint]:
    steps = ANSI_ANGLE_STEPS if flavor == "ansi" else ISO_ANGLE_STEPS
    points: list[SingularPoint] = []
    for kind in ("core", "delta"):
        info = body.u8(f"{kind}_info")
        count = info & 0x0F if flavor == "ansi" else info
        group_angles = flavor == "ansi" and bool(info & 0x40)
        n_angles = 1 if kind == "core" else 3
        for i in range(count):
            xw = body.u16(f"{kind}[{i}].x")
            y = body.u16(f"{kind}[{i}].y") & 0x3FFF
            has_angle = group_angles if flavor == "ansi" else bool((xw >> 14) == 1)
            angles: tuple[float, ...] = ()
            if has_angle:
                angles = tuple(float(units_to_angle(body.u8(f"{kind}[{i}].angle"), steps))
                               for _ in range(n_angles))
            points.append(SingularPoint(kind, float(xw & 0x3FFF), float(y),
                                        angles[0] if angles else None, angles))
    if exact and body.remaining:
        raise fail(f"{body.remaining} unexpected bytes after the cores and deltas",
                   "core_delta", body.pos)
    return points


def write_extended(out: Writer, view: FingerprintTemplate, *, flavor: str,
                   convention: str = "block") -> None:
    """Write the extended-data length and blocks, in the order the view was read in if known.
    `convention` "auto" keeps the block-length convention the view was read with ("data")."""
    if convention == "auto":
        convention = view.extended.get("block_length_convention", "data")
    blocks: list[tuple[int, bytes]] = []
    ridge = view.extended.get("ridge_counts")
    if ridge:
        w = Writer()
        w.u8(ridge.get("method", 0), "ridge_counts.method")
        for a, b, c in ridge.get("edges", ()):
            w.u8(a, "ridge_counts.from")
            w.u8(b, "ridge_counts.to")
            w.u8(c, "ridge_counts.count")
        w.raw(ridge.get("trailing", b""))
        blocks.append((RIDGE_COUNT_BLOCK, w.getvalue()))
    if view.singular_points:
        blocks.append((CORE_DELTA_BLOCK, _core_delta_bytes(view, flavor)))
    for block in view.extended.get("vendor_blocks", ()):
        blocks.append((int(block["type"]), bytes(block["data"])))
    order = view.extended.get("block_order")
    if order:
        rank = {}
        for i, kind in enumerate(order):
            rank.setdefault(kind, i)
        blocks.sort(key=lambda b: rank.get(b[0], len(order)))
    body = Writer()
    for kind, data in blocks:
        body.u16(kind, "extended_block.type")
        body.u16(len(data) + (4 if convention == "block" else 0), "extended_block.length")
        body.raw(data)
    out.u16(body.size, "extended_data_length")
    out.raw(body.getvalue())


def _core_delta_bytes(view: FingerprintTemplate, flavor: str) -> bytes:
    steps = ANSI_ANGLE_STEPS if flavor == "ansi" else ISO_ANGLE_STEPS
    w = Writer()
    for kind in ("core", "delta"):
        points = [p for p in view.singular_points if p.kind == kind]
        n_angles = 1 if kind == "core" else 3
        all_angles = bool(points) and all(p.angle is not None for p in points)
        if flavor == "ansi":
            w.u8((0x40 if all_angles else 0) | _fits(len(points), 15, f"{kind}_count"),
                 f"{kind}_info")
        else:
            w.u8(_fits(len(points), 15, f"{kind}_count"), f"{kind}_info")
        for p in points:
            has = p.angle is not None and (flavor == "iso" or all_angles)
            x, y = int(round(p.x)), int(round(p.y))
            w.u16(((1 << 14) if (has and flavor == "iso") else 0) | _fits(x, 0x3FFF, "x"),
                  f"{kind}.x")
            w.u16(_fits(y, 0x3FFF, "y"), f"{kind}.y")
            if has:
                angles = list(p.angles) if p.angles else [p.angle]
                angles = (angles + [angles[-1]] * n_angles)[:n_angles]
                for a in angles:
                    w.u8(int(angle_to_units(a, steps)), f"{kind}.angle")
    return w.getvalue()


def _fits(value: int, limit: int, field: str) -> int:
    if not 0 <= value <= limit:
        raise TemplateFormatError(f"{field} = {value} is outside 0..{limit}", field=field)
    return value


def common_geometry(views: list[FingerprintTemplate]) -> tuple[int, int, float]:
    """Image size and ppi shared by all views (2004/2005 formats hold them once per record)."""
    if not views:
        raise TemplateFormatError("a record needs at least one finger view", field="views")
    first = views[0]
    for i, v in enumerate(views[1:], 1):
        if (v.width, v.height) != (first.width, first.height) or \
                round(v.ppi / 2.54) != round(first.ppi / 2.54):
            raise TemplateFormatError(
                f"view {i} has a different image size or resolution than view 0; this format "
                f"stores them once per record", field=f"views[{i}]",
                hint="write ansi378:2009 or iso19794-2:2011, which store them per view")
    return int(first.width), int(first.height), first.ppi


# --- record length ----------------------------------------------------------------------------
def check_declared_length(declared: int, actual: int, minimum: int, field: str,
                          offset: int) -> None:
    """A length field may not claim more bytes than exist (no allocation is ever based on it)."""
    if declared > actual:
        raise fail(f"length field says {declared} bytes but the record has only {actual}",
                   field, offset)
    if declared < minimum:
        raise fail(f"length field says {declared} bytes, less than the {minimum}-byte header",
                   field, offset)


#: how far a record's content may run past its declared length: writers (fingerprintio's own
#: samples, NIST test data) leave a length a byte or two short when they edit a record
LENGTH_SLACK = 4


def check_content_end(end: int, declared: int, actual: int, notes: list[str],
                      field: str, offset: int) -> None:
    """The views must fill the declared length; a length a few bytes short is only noted."""
    if end < declared:
        raise fail(f"length field says {declared} bytes but the views end at byte {end}",
                   field, offset)
    if end > declared + LENGTH_SLACK:
        raise fail(f"length field says {declared} bytes but the views run to byte {end}",
                   field, offset)
    if end > declared:
        notes.append(f"length field says {declared} bytes but the content runs to {end}; "
                     f"decoded the content (re-encoding writes the true length)")
    if end < actual and actual > declared:
        notes.append(f"ignored {actual - end} bytes after the end of the record")


def resolution_or_default(ppcm_x: int, ppcm_y: int, notes: list[str]) -> tuple[int, int]:
    """Resolution 0 means 'not recorded' in some writers (NBIS): assume 500 ppi and say so."""
    if ppcm_x == 0 or ppcm_y == 0:
        notes.append("resolution not recorded (0); assumed 197 pixels/cm (500 ppi)")
        return (ppcm_x or 197), (ppcm_y or ppcm_x or 197)
    return ppcm_x, ppcm_y


def check_image_size(width: int, height: int, offset: int) -> None:
    if width == 0 or height == 0:
        raise fail(f"image size {width}x{height} is not positive", "image_size", offset)


def check_view_count(count: int, strict: bool, offset: int) -> None:
    if strict and count == 0:
        raise fail("record holds no finger views (decode with strict=False to accept it)",
                   "view_count", offset)


def check_position_to_write(code: int, allowed: frozenset, index: int) -> None:
    if code not in allowed:
        raise TemplateFormatError(
            f"finger position code {code} of view {index} is not defined by this format",
            field=f"views[{index}].finger_position",
            hint="multi-finger codes 40-50 need ansi378:2009am1")


# --- the record header's capture fields, shared by the 2004/2005/2007 layouts --------------------
def read_capture_equipment(r, rec) -> None:
    """4-bit compliance + 12-bit equipment id, packed in one u16."""
    equipment = r.u16("capture_equipment")
    rec.equipment_compliance, rec.equipment_id = equipment >> 12, equipment & 0x0FFF


def write_capture_equipment(w, record) -> None:
    w.u16(((record.equipment_compliance & 0xF) << 12) | (record.equipment_id & 0x0FFF),
          "capture_equipment")


def read_capture_geometry(r, rec, notes: list[str]) -> None:
    """Capture equipment, image size and resolution (pixels per cm) of a record header."""
    read_capture_equipment(r, rec)
    size_offset = r.pos
    rec.width, rec.height = r.u16("width"), r.u16("height")
    check_image_size(rec.width, rec.height, size_offset)
    rec.resolution_x, rec.resolution_y = resolution_or_default(
        r.u16("resolution_x"), r.u16("resolution_y"), notes)


def write_image_geometry(w, width: int, height: int, ppcm_x: int, ppcm_y: int) -> None:
    for value, name in ((width, "width"), (height, "height"), (ppcm_x, "resolution_x"),
                        (ppcm_y, "resolution_y")):
        w.u16(value, name)

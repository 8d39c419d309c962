"""ISO/IEC 19794-2 compact-size card format (the minutiae a match-on-card chip stores).

Each minutia is 3 bytes: x u8 and y u8 in units of 0.1 mm, then type:2 | angle:6 with the angle
in 360/64-degree steps (counter-clockwise, as in the off-card formats). There is no record
header: the card's Biometric Information Template says what is there. biocap writes the minutiae
wrapped as BER-TLV `7F2E` (biometric data template) holding `81` (minutiae), the way they are
sent to a card, and reads either that or the bare 3-byte minutiae.

Decoding has to pick an image geometry: views come out at 500 ppi on a 25.6 mm square (504 px),
the area the 8-bit 0.1 mm coordinates can address. Encoding converts pixels to 0.1 mm with the
view's ppi and refuses minutiae beyond 25.5 mm instead of moving them.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import TemplateFormatError
from ..fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate
from ._binary import Reader, Writer, fail
from ._fmr_common import angle_to_units, units_to_angle
from .record import FingerprintRecord

NAME = "iso19794-2:card"
ANGLE_STEPS = 64
UNIT_MM = 0.1
DECODE_PPI = 500.0
TAG_BDT = b"\x7f\x2e"     # biometric data template
TAG_MINUTIAE = 0x81
CARD_DTYPE = np.dtype([("x", "u1"), ("y", "u1"), ("ta", "u1")])


def looks_like_card(data: bytes) -> bool:
    return len(data) >= 4 and data[:2] == TAG_BDT


def _read_length(r: Reader, field: str) -> int:
    first = r.u8(field)
    if first < 0x80:
        return first
    n = first & 0x7F
    if n == 0 or n > 3:
        raise fail(f"BER length with {n} length bytes is not supported here", field, r.pos - 1)
    value = 0
    for _ in range(n):
        value = (value << 8) | r.u8(field)
    return value


def _write_length(w: Writer, n: int) -> None:
    if n < 0x80:
        w.u8(n, "length")
    elif n < 0x100:
        w.u8(0x81, "length")
        w.u8(n, "length")
    else:
        w.u8(0x82, "length")
        w.u16(n, "length")


def decode(data: bytes, *, strict: bool = True) -> FingerprintRecord:
    notes: list[str] = []
    objects: list[dict] = []
    if looks_like_card(data):
        r = Reader(data)
        r.take(2, "biometric_data_template.tag")
        outer = r.sub(_read_length(r, "biometric_data_template.length"),
                      "biometric_data_template")
        if r.remaining:
            notes.append(f"ignored {r.remaining} bytes after the biometric data template")
        minutiae_bytes = None
        while outer.remaining:
            tag = outer.u8("data_object.tag")
            if tag & 0x1F == 0x1F:   # two-byte tag
                tag = (tag << 8) | outer.u8("data_object.tag")
            body = outer.sub(_read_length(outer, "data_object.length"), "data_object.value")
            value_offset = body.pos
            value = body.take(body.remaining, "data_object.value")
            if tag == TAG_MINUTIAE and minutiae_bytes is None:
                minutiae_bytes, minutiae_offset = value, value_offset
            else:
                objects.append({"tag": tag, "data": value})
        if minutiae_bytes is None:
            raise fail("biometric data template holds no minutiae object (tag 81)",
                       "minutiae.tag", 2)
    else:
        minutiae_bytes, minutiae_offset = bytes(data), 0
    if len(minutiae_bytes) % 3:
        raise fail(f"{len(minutiae_bytes)} bytes of compact card minutiae is not a multiple "
                   f"of 3", "minutiae", minutiae_offset)
    count = len(minutiae_bytes) // 3
    if strict and count == 0:
        raise fail("card record has zero minutiae", "minutiae", minutiae_offset)
    raw = np.frombuffer(minutiae_bytes, dtype=CARD_DTYPE)
    types = raw["ta"] >> 6
    bad = np.flatnonzero(types == 3)
    if bad.size:
        i = int(bad[0])
        raise fail(f"minutia {i} has the reserved type code 3", f"minutiae[{i}].type",
                   minutiae_offset + 3 * i + 2)
    px_per_unit = DECODE_PPI * UNIT_MM / 25.4
    size = math.ceil(256 * px_per_unit)
    m = np.empty(count, dtype=MINUTIA_DTYPE)
    m["x"] = raw["x"] * px_per_unit
    m["y"] = raw["y"] * px_per_unit
    m["angle"] = units_to_angle(raw["ta"] & 0x3F, ANGLE_STEPS)
    m["type"] = types
    m["quality"] = 255
    extended = {"card_objects": objects} if objects else {}
    view = FingerprintTemplate(m, size, size, DECODE_PPI, extended=extended)
    return FingerprintRecord(format=NAME, views=[view], width=size, height=size,
                             resolution_x=round(DECODE_PPI / 2.54),
                             resolution_y=round(DECODE_PPI / 2.54), notes=notes)


def minutiae_bytes(view: FingerprintTemplate) -> bytes:
    """The bare 3-byte-per-minutia encoding of one view."""
    m = view.minutiae
    if len(m) == 0:
        raise TemplateFormatError("finger view has zero minutiae; there is nothing to encode",
                                  field="minutiae")
    units_per_px = 25.4 / (UNIT_MM * view.ppi)
    xs = np.rint(m["x"].astype(np.float64) * units_per_px).astype(np.int64)
    ys = np.rint(m["y"].astype(np.float64) * units_per_px).astype(np.int64)
    for name, values in (("x", xs), ("y", ys)):
        bad = np.flatnonzero((values < 0) | (values > 255))
        if bad.size:
            i = int(bad[0])
            raise TemplateFormatError(
                f"minutia {i} lies {values[i] * UNIT_MM:.1f} mm along {name}; the compact card "
                f"format addresses 0-25.5 mm", field=f"minutiae[{i}].{name}",
                hint="crop the template to the finger's central 25 mm before writing a card")
    types = m["type"].astype(np.int64)
    if np.any(types > 2):
        i = int(np.flatnonzero(types > 2)[0])
        raise TemplateFormatError(f"minutia {i} has type {int(types[i])}",
                                  field=f"minutiae[{i}].type")
    out = np.empty(len(m), dtype=CARD_DTYPE)
    out["x"] = xs
    out["y"] = ys
    out["ta"] = (types << 6) | angle_to_units(m["angle"], ANGLE_STEPS)
    return out.tobytes()


SORT_ORDERS = ("none", "x_ascending", "x_descending", "y_ascending", "y_descending")


def prepare_for_card(view: FingerprintTemplate, *, max_minutiae: int | None = None,
                     sort: str = "none") -> FingerprintTemplate:
    """The view reduced and ordered the way a card's Biometric Information Template asks.

    Removal follows ISO/IEC 19794-2 (9.3.2): lowest quality first when qualities are reported,
    ties (or no qualities) broken by the largest distance from the centre of mass (computed
    before any removal), then ridge endings before bifurcations, then the largest angle.
    Removal happens before sorting.
    """
    if sort not in SORT_ORDERS:
        raise TemplateFormatError(f"unknown card sort order {sort!r}",
                                  hint=f"use one of: {', '.join(SORT_ORDERS)}")
    m = view.minutiae
    keep = np.arange(len(m))
    if max_minutiae is not None:
        if max_minutiae < 1:
            raise TemplateFormatError(f"a card cannot hold {max_minutiae} minutiae",
                                      field="max_minutiae")
        if len(m) > max_minutiae:
            x, y = m["x"].astype(np.float64), m["y"].astype(np.float64)
            distance = np.hypot(x - x.mean(), y - y.mean())
            quality = m["quality"].astype(np.int64)
            reported = np.where(quality == 255, -1, quality)
            # lexsort: last key is primary; "remove first" = sorts first
            removal = np.lexsort((-m["angle"].astype(np.float64), -(m["type"] == 1).astype(int),
                                  -distance, reported))
            keep = np.sort(removal[len(m) - max_minutiae:])
    m = m[keep]
    if sort != "none":
        axis = "x" if sort.startswith("x") else "y"
        order = np.argsort(m[axis], kind="stable")
        m = m[order[::-1]] if sort.endswith("descending") else m[order]
    return FingerprintTemplate(m, view.width, view.height, view.ppi, position=view.position,
                               view=view.view, impression_type=view.impression_type,
                               quality=view.quality, singular_points=list(view.singular_points),
                               extended=dict(view.extended))


def encode(record: FingerprintRecord) -> bytes:
    if len(record.views) != 1:
        raise TemplateFormatError(
            f"the compact card format holds one finger view, the record has "
            f"{len(record.views)}", field="views",
            hint="choose one view (e.g. `biocap template convert --view N`)")
    view = record.views[0]
    inner = Writer()
    body = minutiae_bytes(view)
    inner.u8(TAG_MINUTIAE, "minutiae.tag")
    _write_length(inner, len(body))
    inner.raw(body)
    for obj in view.extended.get("card_objects", ()):
        tag = int(obj["tag"])
        if tag > 0xFF:
            inner.u16(tag, "data_object.tag")
        else:
            inner.u8(tag, "data_object.tag")
        _write_length(inner, len(obj["data"]))
        inner.raw(obj["data"])
    out = Writer()
    out.raw(TAG_BDT)
    _write_length(out, inner.size)
    out.raw(inner.getvalue())
    return out.getvalue()

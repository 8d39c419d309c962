"""The finger view record of ANSI INCITS 378-2004 and ISO/IEC 19794-2:2005 (same layout).

    position u8 | view<<4 | impression u8 | finger quality u8 | minutiae count u8
    minutiae (6 bytes each) | extended data length u16 | extended data blocks

The two formats differ only in angle units and in how core/delta angles are flagged.
"""
from __future__ import annotations

from ..fingerprint.template import FingerprintTemplate, SingularPoint
from ._binary import Reader, Writer, fail
from ._fmr_common import (POSITIONS_BASE, check_position, check_position_to_write,
                          check_view_count, ppi_from_ppcm, read_extended, read_minutiae,
                          write_extended, write_minutiae)

MIN_VIEW_BYTES = 6  # header (4) + extended data length (2)


def finger_quality_from_code(code: int, extended: dict) -> int | None:
    if code <= 100:
        return code
    extended["quality_code"] = code   # 254/255 "not reported/failed", or out of range
    return None


def finger_quality_code(view: FingerprintTemplate, unreported: int) -> int:
    if view.quality is not None and 0 <= view.quality <= 100:
        return int(view.quality)
    return int(view.extended.get("quality_code", unreported))


def read_view(r: Reader, index: int, *, width: int, height: int, ppi: float,
              ppcm: tuple[int, int], steps: int, flavor: str, strict: bool, convention: str,
              notes: list[str], tail: bool) -> FingerprintTemplate:
    start = r.pos
    position = check_position(r.u8(f"views[{index}].finger_position"), POSITIONS_BASE,
                              f"views[{index}].finger_position", start)
    view_imp = r.u8(f"views[{index}].view_and_impression")
    quality = r.u8(f"views[{index}].finger_quality")
    count = r.u8(f"views[{index}].minutiae_count")
    extended: dict = {"resolution_ppcm": ppcm}
    minutiae = read_minutiae(r, count, steps=steps, with_quality=True, width=width,
                             height=height, strict=strict, extended=extended, notes=notes)
    singular: list[SingularPoint] = []
    read_extended(r, extended, singular, flavor=flavor, notes=notes, convention=convention,
                  tail=tail)
    finger_quality = finger_quality_from_code(quality, extended)
    return FingerprintTemplate(minutiae, width, height, ppi, position=position,
                               view=view_imp >> 4, impression_type=view_imp & 0x0F,
                               quality=finger_quality, singular_points=singular,
                               extended=extended)


def write_view(out: Writer, view: FingerprintTemplate, index: int, *, width: int, height: int,
               steps: int, flavor: str, convention: str) -> None:
    if view.view > 15 or view.impression_type > 15:
        raise fail(f"view number {view.view} / impression type {view.impression_type} do not "
                   f"fit this format's 4-bit fields", f"views[{index}].view_and_impression", 0)
    check_position_to_write(view.position, POSITIONS_BASE, index)
    out.u8(view.position, f"views[{index}].finger_position")
    out.u8((view.view << 4) | view.impression_type, f"views[{index}].view_and_impression")
    out.u8(finger_quality_code(view, 0), f"views[{index}].finger_quality")
    out.u8(len(view.minutiae), f"views[{index}].minutiae_count")
    write_minutiae(out, view.minutiae, steps=steps, with_quality=True, width=width,
                   height=height, quality_for_unreported=0, max_quality=255,
                   raw_angles=view.extended.get("angle_units_raw") if steps < 256 else None)
    write_extended(out, view, flavor=flavor, convention=convention)


def read_views(r: Reader, count: int, **kwargs) -> list[FingerprintTemplate]:
    # each view needs at least MIN_VIEW_BYTES: reject absurd counts before looping
    r.need(count * MIN_VIEW_BYTES, f"views[{count}]")
    return [read_view(r, i, tail=i == count - 1, **kwargs) for i in range(count)]


def read_view_block(r: Reader, rec, *, strict: bool, notes: list[str], **kwargs) -> None:
    """The view count, the reserved byte and the views of a 2004/2005-layout record, whose
    header (`rec`) already holds the image size and resolution."""
    count = r.u8("view_count")
    check_view_count(count, strict, r.pos - 1)
    r.u8("reserved")
    rec.views = read_views(r, count, width=rec.width, height=rec.height,
                           ppi=ppi_from_ppcm(rec.resolution_x),
                           ppcm=(rec.resolution_x, rec.resolution_y), strict=strict, notes=notes,
                           **kwargs)


def write_view_block(out: Writer, views: list[FingerprintTemplate], **kwargs) -> None:
    out.u8(len(views), "view_count")
    out.u8(0, "reserved")
    for i, view in enumerate(views):
        write_view(out, view, i, **kwargs)

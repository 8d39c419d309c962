"""Template-level synthetic fingerprints: impressions of master fingers as minutiae templates.

Each impression goes through the same geometry an image would (placement, rotation, Cappelli's
elastic distortion, partial contact area; see `fingerprint.distortion`), then loses some true
minutiae, gains some spurious ones and gets positional and angular noise, as an extractor's output
on a real capture would. Nothing is rendered, so galleries of 10^5-10^6 fingers are cheap, and
every finger has its own random stream: generation is lazy, deterministic by seed and can be split
across processes (`start`, `stop`) with identical results.

Finger ids count from 1; ten consecutive fingers form one synthetic person (ISO finger positions
1..10: right thumb .. left little).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ...errors import InvalidDataError
from ...templates.fingerprint.template import (MINUTIA_DTYPE, FingerprintTemplate, MinutiaType,
                                               SingularPoint)
from .distortion import ImpressionGeometry, impression_condition, random_geometry
from .master_minutiae import sample_master_minutiae
from .pattern import FingerPattern, check_size, random_pattern
from .seeding import check_seed, stream

#: keep minutiae at least this far (pixels) inside the image; extractors skip the border
BORDER_MARGIN = 8.0


@dataclass
class MasterFinger:
    """A finger's master: its pattern and its true minutiae (x, y, theta, type) at 500 ppi."""

    finger_id: int
    pattern: FingerPattern
    minutiae: np.ndarray  # (n, 4)


def finger_position(finger_id: int) -> int:
    """ISO/IEC 19794-2 finger position of a synthetic finger (ten per person)."""
    return (int(finger_id) - 1) % 10 + 1


def master_finger(seed: int, finger_id: int, width: int = 400, height: int = 500) -> MasterFinger:
    """The statistical master of one finger (no rendering)."""
    rng = stream(seed, finger_id, 0, "master")
    pattern = random_pattern(rng, width, height)
    return MasterFinger(finger_id, pattern, sample_master_minutiae(rng, pattern))


def impression_template(master: MasterFinger, geometry: ImpressionGeometry,
                        rng: np.random.Generator, *, ppi: float, miss_rate: float | None = None,
                        spurious_rate: float | None = None,
                        condition: str = "normal") -> FingerprintTemplate:
    """The minutiae an extractor would report for one impression of `master` under one of
    FVC2002's conditions (normal, displaced, dry, wet)."""
    if condition not in PATCH_SEVERITY:
        raise InvalidDataError(f"unknown impression condition {condition!r}; use one of "
                               f"{', '.join(PATCH_SEVERITY)}")
    m = master.minutiae
    x, y, theta, kind = m[:, 0], m[:, 1], m[:, 2], m[:, 3].astype(np.uint8)
    w, h = geometry.out_width, geometry.out_height
    qx, qy = geometry.forward(x, y)
    qt = geometry.forward_angle(x, y, theta)
    visible = geometry.in_contact(master.pattern, x, y)
    # rates calibrated on biocap's extractor over rendered impressions (benchmark: precision
    # about 0.85, recall about 0.82 of the legible true minutiae)
    miss = rng.uniform(0.08, 0.25) if miss_rate is None else miss_rate
    keep = visible & (rng.random(x.size) >= miss) & ~_illegible_patches(
        rng, master.pattern, x, y, PATCH_SEVERITY.get(condition, 0.3))
    qx, qy, qt, kind = qx[keep], qy[keep], qt[keep], kind[keep]
    # spurious minutiae: noise, scars, creases; in the contact area, along the ridge flow
    lam = rng.uniform(2.0, 9.0) if spurious_rate is None else spurious_rate
    n_sp = int(rng.poisson(lam))
    if n_sp:
        a, b = master.pattern.half_axes
        cx, cy = master.pattern.centre
        sx = cx + rng.uniform(-a, a, 4 * n_sp)
        sy = cy + rng.uniform(-b, b, 4 * n_sp)
        ok = geometry.in_contact(master.pattern, sx, sy)
        sx, sy = sx[ok][:n_sp], sy[ok][:n_sp]
        st = master.pattern.orientation(sx, sy) + np.pi * (rng.random(sx.size) < 0.5)
        fx, fy = geometry.forward(sx, sy)
        qx = np.concatenate([qx, fx])
        qy = np.concatenate([qy, fy])
        qt = np.concatenate([qt, geometry.forward_angle(sx, sy, st)])
        kind = np.concatenate([kind, rng.choice([MinutiaType.ENDING, MinutiaType.BIFURCATION],
                                                sx.size).astype(np.uint8)])
    n = qx.size
    qx = qx + rng.normal(0, 2.0 * geometry.scale, n)
    qy = qy + rng.normal(0, 2.0 * geometry.scale, n)
    qt = qt + np.deg2rad(rng.normal(0, 6.0, n))
    flip = rng.random(n) < 0.08  # ending <-> bifurcation confusion (ridge/valley duality)
    kind = np.where(flip, 3 - kind, kind)
    inside = ((qx >= BORDER_MARGIN) & (qx <= w - 1 - BORDER_MARGIN)
              & (qy >= BORDER_MARGIN) & (qy <= h - 1 - BORDER_MARGIN))
    out = np.zeros(int(inside.sum()), dtype=MINUTIA_DTYPE)
    out["x"] = qx[inside]
    out["y"] = qy[inside]
    # pixel-frame direction (y down) -> the standards' counter-clockwise angle
    out["angle"] = np.mod(-qt[inside], 2 * np.pi)
    out["type"] = kind[inside]
    out["quality"] = np.clip(rng.normal(70, 15, out.size), 20, 100).astype(np.uint8)
    order = np.lexsort((out["x"], out["y"]))
    sps = []
    points = master.pattern.singular_points()
    if points:
        px, py = geometry.forward(np.array([p[1] for p in points]),
                                  np.array([p[2] for p in points]))
        sps = [SingularPoint(p[0], float(x), float(y)) for p, x, y in zip(points, px, py)
               if 0 <= x < w and 0 <= y < h]
    return FingerprintTemplate(minutiae=out[order], width=w, height=h, ppi=float(ppi),
                               position=finger_position(master.finger_id), view=0,
                               impression_type=0, quality=int(np.clip(40 + 55 * geometry.pressure
                                                                      * rng.uniform(0.7, 1.0),
                                                                      0, 100)),
                               singular_points=sps)


#: how much of a print dry or wet skin makes illegible, per FVC2002 condition (as on the images:
#: whole patches of ridges lost or drowned, not scattered minutiae)
PATCH_SEVERITY = {"normal": 0.3, "displaced": 0.3, "dry": 1.0, "wet": 0.8}


def _illegible_patches(rng: np.random.Generator, pattern: FingerPattern, x: np.ndarray,
                       y: np.ndarray, severity: float) -> np.ndarray:
    """Minutiae that fall into patches where the skin did not print legibly."""
    n = int(rng.poisson(1.0 + 4.0 * severity))
    lost = np.zeros(x.size, bool)
    if n == 0 or x.size == 0:
        return lost
    a, b = pattern.half_axes
    cx = pattern.centre[0] + rng.uniform(-a, a, n)
    cy = pattern.centre[1] + rng.uniform(-b, b, n)
    r = rng.uniform(20, 55, n)
    d2 = (x[:, None] - cx[None]) ** 2 + (y[:, None] - cy[None]) ** 2
    return np.any(d2 < (r * r)[None], axis=1)


def _check_count(name: str, value, lo: int = 1, hi: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidDataError(f"{name} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise InvalidDataError(f"{name} {value} is outside {lo}..{hi}")
    return int(value)


def iter_finger_templates(n_fingers: int, impressions: int, seed: int, ppi: float = 500,
                          width: int = 400, height: int = 500, *, start: int = 1,
                          masters: str = "statistical"
                          ) -> Iterator[tuple[int, int, FingerprintTemplate]]:
    """Yield (finger_id, impression, template) for fingers start..start+n_fingers-1 and
    impressions 1..`impressions`, one at a time (nothing is kept between fingers).

    `masters="statistical"` draws each finger's true minutiae from a model of real ones (about
    1,000+ fingers/s); `masters="rendered"` takes them from the rendered master image, the very
    finger `biocap sim generate` draws for the same seed and id (about 5 fingers/s per core).

    Same arguments, same templates; finger k is the same whatever `start`/`n_fingers` window
    produced it. `width` x `height` is the sensor image at `ppi` (the master is 500 ppi)."""
    n_fingers = _check_count("n_fingers", n_fingers, 0)
    impressions = _check_count("impressions", impressions, 1, 1000)
    seed = check_seed(seed)
    start = _check_count("start", start, 1)
    width, height = check_size(width, height)
    if masters not in ("statistical", "rendered"):
        raise InvalidDataError(f"masters must be 'statistical' or 'rendered', got {masters!r}")
    if not isinstance(ppi, (int, float, np.integer, np.floating)) or not 250 <= float(ppi) <= 2000:
        raise InvalidDataError(f"ppi {ppi!r} is outside 250..2000; fingerprint sensors are "
                               "about 500 ppi")
    # the master canvas is the sensor area expressed at 500 ppi
    mw = max(64, int(round(width * 500.0 / float(ppi))))
    mh = max(64, int(round(height * 500.0 / float(ppi))))
    for finger_id in range(start, start + n_fingers):
        if masters == "rendered":
            from .master import render_master
            rendered = render_master(seed, finger_id)
            master = MasterFinger(finger_id, rendered.pattern, rendered.minutiae)
        else:
            master = master_finger(seed, finger_id, max(mw, 400), max(mh, 500))
        for imp in range(1, impressions + 1):
            rng = stream(seed, finger_id, imp, "template")
            condition = impression_condition(imp)
            geom = random_geometry(rng, master.pattern, width, height, float(ppi),
                                   displaced=condition == "displaced")
            yield finger_id, imp, impression_template(master, geom, rng, ppi=float(ppi),
                                                      condition=condition)

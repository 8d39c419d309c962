"""Synthetic online signatures with ground truth: signers, their genuine signatures, forgeries.

A signer is a few strokes, each a chain of via points (mm) written left to right with loops; a
signature is that plan executed by a pen: between via points the pen follows a smooth path
(Catmull-Rom) with a bell-shaped (minimum-jerk) speed profile, segment durations growing with
the square root of their length (handwriting's isochrony), pressure ramping up after touch-down
and down before lift-off, and pen-up moves between strokes (hover samples near the pad, none
when the pen leaves its range). Each genuine signature varies the plan as one person does: speed,
size, slant, via points by a fraction of a millimetre, pressure level. A skilled forgery traces
the same plan slower, more evenly and less precisely, with its own pressure. Output in pad units
(PAD_UNITS_PER_MM), y growing upwards (as SVC2004), sampled at `rate_hz` with clock jitter.

    signer = make_signer(seed=3)
    sig = genuine(signer, rng)          # SyntheticSignature(pen, signer_id, kind="genuine")
    fake = skilled_forgery(signer, rng)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...types import PenSeries

#: pad resolution of the generated series: 0.01 mm, as Wacom-class pads report
PAD_UNITS_PER_MM = 100.0
#: pad area (mm) the signatures are placed in: a 6 x 4 inch signing pad
PAD_MM = (152.4, 101.6)


@dataclass(frozen=True)
class Signer:
    id: int
    strokes: tuple[np.ndarray, ...]   # each (k, 2) via points in mm
    speed_mm_s: float                 # typical writing speed
    pressure: float                   # typical pressure level (0-1023 scale)
    slant: float                      # radians


@dataclass(frozen=True)
class SyntheticSignature:
    pen: PenSeries
    signer_id: int
    kind: str                         # "genuine" | "skilled"


def make_signer(seed: int) -> Signer:
    rng = np.random.default_rng([19, seed])
    n_strokes = int(rng.integers(2, 5))
    strokes, x = [], 0.0
    for _ in range(n_strokes):
        k = int(rng.integers(8, 20))
        pts = []
        base = float(rng.normal(0, 1.5))
        for i in range(k):
            # cursive letters: alternate up- and down-strokes around a drifting baseline, with
            # the odd ascender or descender and a loop (a step back) now and then
            x += float(rng.uniform(1.2, 4.0))
            if i % 2 == 0:
                h = float(rng.uniform(3.0, 8.0))
                if rng.random() < 0.2:
                    h = float(rng.uniform(12.0, 18.0))
                y = base + h
            else:
                y = base - (float(rng.uniform(6.0, 10.0)) if rng.random() < 0.12 else
                            float(rng.uniform(0.0, 1.5)))
                base += float(rng.normal(0, 0.6))
            if rng.random() < 0.2:
                x -= float(rng.uniform(1.0, 3.0))
            pts.append((x, y))
        strokes.append(np.asarray(pts))
        x += float(rng.uniform(3.0, 8.0))
    return Signer(seed, tuple(strokes), float(rng.uniform(40, 90)), float(rng.uniform(350, 800)),
                  float(rng.uniform(-0.25, 0.25)))


def _catmull_rom(pts: np.ndarray, per_seg: int) -> np.ndarray:
    p = np.vstack([pts[:1], pts, pts[-1:]])
    out = []
    u = np.linspace(0, 1, per_seg, endpoint=False)[:, None]
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * u ** 3))
    out.append(p[-2][None, :])
    return np.vstack(out)


def _write_stroke(pts: np.ndarray, speed: float, evenness: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Dense (x, y) path and time stamps (s) of one stroke through its via points."""
    fine = _catmull_rom(pts, 24)
    seg = np.hypot(*np.diff(fine, axis=0).T)
    # the via segments: every 24 fine points
    n_via = len(pts) - 1
    times = [0.0]
    for v in range(n_via):
        s = seg[v * 24:(v + 1) * 24]
        length = float(s.sum())
        dur = max(0.03, np.sqrt(max(length, 1e-6)) / np.sqrt(speed) * 0.35 * rng.uniform(0.9, 1.1))
        # minimum-jerk speed profile over the segment (bell), flattened by `evenness`
        u = (np.arange(len(s)) + 0.5) / len(s)
        bell = 30 * u ** 2 * (1 - u) ** 2
        prof = (1 - evenness) * bell + evenness * 1.0
        w = s / np.maximum(prof, 1e-3)
        dt = dur * w / max(w.sum(), 1e-9)
        times.extend(times[-1] + np.cumsum(dt))
    return fine, np.asarray(times)


def _execute(strokes, speed, pressure, evenness, rng, rate_hz, hover_gap_prob=0.5) -> PenSeries:
    xs, ys, ts, ps, ds = [], [], [], [], []
    t0 = 0.0
    prev_end = None
    for k, pts in enumerate(strokes):
        path, times = _write_stroke(pts, speed, evenness, rng)
        if prev_end is not None:  # pen-up move to this stroke's start
            gap = float(np.hypot(*(path[0] - prev_end))) / (speed * 1.5) + rng.uniform(0.05, 0.15)
            if rng.random() < hover_gap_prob:
                n = max(2, int(gap * rate_hz))
                u = np.linspace(0, 1, n + 2)[1:-1, None]
                hov = prev_end + (path[0] - prev_end) * u
                xs.append(hov[:, 0]), ys.append(hov[:, 1])
                ts.append(t0 + u[:, 0] * gap), ps.append(np.zeros(n)), ds.append(np.zeros(n, bool))
            else:  # out of range: the pad reports the lift once, then nothing until touch-down
                xs.append(prev_end[:1]), ys.append(prev_end[1:2])
                ts.append(np.array([t0 + 1.0 / rate_hz])), ps.append(np.zeros(1))
                ds.append(np.zeros(1, bool))
            t0 += gap
        grid = np.arange(0, times[-1], 1.0 / rate_hz)
        gx = np.interp(grid, times, path[:, 0])
        gy = np.interp(grid, times, path[:, 1])
        dur = max(times[-1], 1e-3)
        ramp = np.minimum(1, np.minimum(grid / 0.04, (dur - grid) / 0.05).clip(0))
        wobble = 1 + 0.15 * np.sin(2 * np.pi * grid / max(dur / rng.uniform(1, 3), 0.1) + rng.uniform(0, 6))
        p = pressure * (0.15 + 0.85 * ramp) * wobble
        xs.append(gx), ys.append(gy), ts.append(t0 + grid), ps.append(p), ds.append(np.ones(len(grid), bool))
        t0 += dur
        prev_end = path[-1]
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    p, d = np.concatenate(ps), np.concatenate(ds)
    t_ms = np.round(t * 1000 + rng.normal(0, 0.3, len(t))).astype(np.int64)
    t_ms = np.maximum.accumulate(t_ms)
    return PenSeries(x=x, y=y, pressure=np.clip(np.round(p), 0, 1023), t_ms=t_ms.astype(float),
                     pen_down=d)


def _place(strokes, rng, scale, slant, jitter_mm) -> list[np.ndarray]:
    c, s = np.cos(slant), np.sin(slant)
    out = []
    for pts in strokes:
        q = pts + rng.normal(0, jitter_mm, pts.shape)
        q = np.stack([q[:, 0] + q[:, 1] * s, q[:, 1] * c], 1) * scale
        out.append(q)
    return out


def _to_pad(pen: PenSeries, rng) -> PenSeries:
    x = np.asarray(pen.x) - np.min(pen.x)
    y = np.asarray(pen.y) - np.min(pen.y)
    ox = (PAD_MM[0] - np.ptp(x)) / 2 + rng.normal(0, 3)
    oy = (PAD_MM[1] - np.ptp(y)) / 2 + rng.normal(0, 3)
    to_units = lambda v: np.round(v * PAD_UNITS_PER_MM)  # noqa: E731
    return PenSeries(x=to_units(x + ox), y=to_units(y + oy), pressure=pen.pressure,
                     t_ms=pen.t_ms, pen_down=pen.pen_down)


def genuine(signer: Signer, rng: np.random.Generator, rate_hz: float = 100.0) -> SyntheticSignature:
    strokes = _place(signer.strokes, rng, rng.uniform(0.93, 1.07),
                     signer.slant + rng.normal(0, 0.03), 0.35)
    pen = _execute(strokes, signer.speed_mm_s * rng.uniform(0.88, 1.12),
                   signer.pressure * rng.uniform(0.9, 1.1), 0.1, rng, rate_hz)
    return SyntheticSignature(_to_pad(pen, rng), signer.id, "genuine")


def skilled_forgery(signer: Signer, rng: np.random.Generator,
                    rate_hz: float = 100.0) -> SyntheticSignature:
    strokes = _place(signer.strokes, rng, rng.uniform(0.85, 1.15),
                     signer.slant + rng.normal(0, 0.08), 1.2)
    pen = _execute(strokes, signer.speed_mm_s * rng.uniform(0.45, 0.75),
                   float(rng.uniform(300, 850)), 0.5, rng, rate_hz)
    return SyntheticSignature(_to_pad(pen, rng), signer.id, "skilled")

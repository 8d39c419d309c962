"""Features of an online signature's pen series, as named stages.

    prepared = prepare(pen)          # validated, time-ordered, resampled at RATE_HZ, smoothed
    local = local_features(prepared) # (128, 16) per-point series for elastic matching, z-normalised
    glob = global_features(prepared) # (k,) whole-signature features (duration, speed, ...)

Local features per point: x, y, speed (velocity magnitude), path-tangent angle as cos/sin,
acceleration magnitude, pressure, (template version 3) the derivatives of pressure and speed,
the log curvature radius and the angular velocity of the path, and (version 4) the first
derivatives of the log curvature radius and of the acceleration and the second derivatives of
speed, log curvature radius and acceleration. All but the direction are
z-normalised over the signature so position, size, pad units and pressure calibration do not
matter, only shape and dynamics do. Verification warps four groups of these columns separately
(params.LOCAL_GROUPS; chosen on SVC2004 users 1-10: docs/decisions/19-signature-verification.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ...errors import InvalidSample
from ...types import PenSeries
from . import params as P

LOCAL_NAMES = ("x", "y", "speed", "cos_angle", "sin_angle", "accel", "pressure",
               "d_pressure", "d_speed", "log_curvature_radius", "d_angle",
               "d_log_curvature_radius", "d_accel", "d2_speed", "d2_log_curvature_radius",
               "d2_accel")
#: the columns template version 3 held (the first 11; version 4 adds the last five)
LOCAL_NAMES_V3 = LOCAL_NAMES[:11]
#: columns that keep their own scale (unit direction vector); every other column is z-normalised
_UNSCALED = ("cos_angle", "sin_angle")
GLOBAL_NAMES = ("log_duration", "pen_down_fraction", "log_strokes", "log_path_per_height",
                "log_aspect", "log_mean_speed", "log_max_speed_ratio", "log_speed_std_ratio",
                "pressure_mean_ratio", "pressure_std_ratio", "mean_dir_cos", "mean_dir_sin",
                "log_x_vel_pos_ratio", "centroid_x", "centroid_y")


@dataclass(frozen=True)
class PreparedPen:
    """A pen series on a uniform time grid (RATE_HZ), smoothed; pressure in [0, 1] of its max."""

    x: np.ndarray
    y: np.ndarray
    pressure: np.ndarray
    down: np.ndarray  # bool
    duration_s: float
    raw_strokes: int

    def __len__(self) -> int:
        return len(self.x)


def _finite_column(pen: PenSeries, name: str) -> np.ndarray:
    col = np.asarray(getattr(pen, name), dtype=np.float64)
    if col.ndim != 1:
        raise InvalidSample(f"pen series column {name!r} must be 1-D, got shape {col.shape}")
    if not np.all(np.isfinite(col)):
        raise InvalidSample(f"pen series column {name!r} holds NaN or infinite values",
                            hint="drop the broken samples before passing the pen series")
    return col


def count_strokes(down: np.ndarray) -> int:
    """Number of pen-down runs."""
    d = np.asarray(down, dtype=bool)
    return int(d[0]) + int(np.count_nonzero(d[1:] & ~d[:-1])) if d.size else 0


def prepare(pen: PenSeries) -> PreparedPen:
    """Validate and resample a pen series onto a uniform RATE_HZ grid, smoothed."""
    if not isinstance(pen, PenSeries):
        raise InvalidSample(f"expected a PenSeries, got {type(pen).__name__}")
    x, y = _finite_column(pen, "x"), _finite_column(pen, "y")
    p, t = _finite_column(pen, "pressure"), _finite_column(pen, "t_ms")
    down = np.asarray(pen.pen_down).astype(bool)
    if np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        x, y, p, t, down = x[order], y[order], p[order], t[order], down[order]
    duration_ms = float(t[-1] - t[0])
    if duration_ms <= 0:
        raise InvalidSample("the pen series has no duration (all time stamps equal)",
                            hint="check the pad's time stamps; ask the person to sign again")
    n = int(duration_ms * P.RATE_HZ / 1000.0) + 1
    if n > P.MAX_POINTS:
        raise InvalidSample(f"the pen series lasts {duration_ms / 1000:.1f} s, longer than the "
                            f"{P.MAX_POINTS / P.RATE_HZ:.0f} s a signature may take",
                            hint="capture one signature at a time")
    if n < P.MIN_POINTS:
        raise InvalidSample(f"the pen series lasts only {duration_ms:.0f} ms; a signature needs "
                            f"at least {P.MIN_POINTS * 1000 / P.RATE_HZ:.0f} ms",
                            hint="ask the person to sign in full")
    # keep the first of samples sharing a time stamp so interpolation sees increasing times
    keep = np.concatenate([[True], np.diff(t) > 0])
    x, y, p, t, down = x[keep], y[keep], p[keep], t[keep], down[keep]
    grid = t[0] + np.arange(n) * (1000.0 / P.RATE_HZ)
    xs, ys = np.interp(grid, t, x), np.interp(grid, t, y)
    ps = np.interp(grid, t, np.where(down, p, 0.0))
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    ds = down[idx]
    if P.SMOOTH_SIGMA > 0:
        xs = gaussian_filter1d(xs, P.SMOOTH_SIGMA, mode="nearest")
        ys = gaussian_filter1d(ys, P.SMOOTH_SIGMA, mode="nearest")
        ps = gaussian_filter1d(ps, P.SMOOTH_SIGMA, mode="nearest")
    pmax = float(ps.max())
    ps = ps / pmax if pmax > 0 else ps
    return PreparedPen(xs, ys, ps, ds, duration_ms / 1000.0, count_strokes(down))


def _z(col: np.ndarray) -> np.ndarray:
    sd = float(col.std())
    return (col - col.mean()) / sd if sd > 1e-9 else col - col.mean()


def _resample(cols: np.ndarray, n: int) -> np.ndarray:
    src = np.arange(len(cols))
    dst = np.linspace(0, len(cols) - 1, n)
    return np.stack([np.interp(dst, src, cols[:, k]) for k in range(cols.shape[1])], axis=1)


def local_features(pp: PreparedPen, points: int = P.LOCAL_POINTS) -> np.ndarray:
    """(points, len(LOCAL_NAMES)) float64 per-point features, resampled evenly in time to `points`
    rows; the direction as unit cos/sin, every other column z-normalised over the signature."""
    dx = np.gradient(pp.x)
    dy = np.gradient(pp.y)
    speed = np.hypot(dx, dy)
    theta = np.unwrap(np.arctan2(dy, dx))
    d_theta = np.gradient(theta)
    accel = np.hypot(np.gradient(dx), np.gradient(dy))
    # log of speed over angular speed (the radius of curvature), both floored so straight
    # strokes and pauses stay finite
    log_rho = np.log((speed + P.CURVATURE_FLOOR) / (np.abs(d_theta) + P.CURVATURE_FLOOR))
    raw = {
        "x": pp.x, "y": pp.y, "speed": speed,
        "cos_angle": np.where(speed > 1e-9, dx / np.maximum(speed, 1e-9), 0.0),
        "sin_angle": np.where(speed > 1e-9, dy / np.maximum(speed, 1e-9), 0.0),
        "accel": accel,
        "pressure": pp.pressure,
        "d_pressure": np.gradient(pp.pressure),
        "d_speed": np.gradient(speed),
        "log_curvature_radius": log_rho,
        "d_angle": d_theta,
        "d_log_curvature_radius": np.gradient(log_rho),
        "d_accel": np.gradient(accel),
        "d2_speed": np.gradient(np.gradient(speed)),
        "d2_log_curvature_radius": np.gradient(np.gradient(log_rho)),
        "d2_accel": np.gradient(np.gradient(accel)),
    }
    cols = [raw[k] if k in _UNSCALED else _z(raw[k]) for k in LOCAL_NAMES]
    feats = _resample(np.stack(cols, axis=1), points)
    return np.ascontiguousarray(feats, dtype=np.float64)


def global_features(pp: PreparedPen) -> np.ndarray:
    """(len(GLOBAL_NAMES),) whole-signature features; scale-free where a pad could differ."""
    dt = 1.0 / P.RATE_HZ
    dx, dy = np.gradient(pp.x) / dt, np.gradient(pp.y) / dt
    speed = np.hypot(dx, dy)
    down = pp.down
    height = max(float(np.ptp(pp.y)), 1e-6)
    width = max(float(np.ptp(pp.x)), 1e-6)
    sd = speed[down] if down.any() else speed
    path = float(sd.sum() * dt)
    mean_speed = max(float(sd.mean()), 1e-9)
    p_down = pp.pressure[down] if down.any() else pp.pressure
    vx_pos = float(np.count_nonzero(dx > 0)) + 1.0
    vx_neg = float(np.count_nonzero(dx < 0)) + 1.0
    ang = np.arctan2(dy[down], dx[down]) if down.any() else np.zeros(1)
    w = sd / max(float(sd.sum()), 1e-9)
    cx = (float(np.average(pp.x[down], weights=None)) - pp.x.min()) / width if down.any() else 0.5
    cy = (float(np.average(pp.y[down], weights=None)) - pp.y.min()) / height if down.any() else 0.5
    return np.array([
        np.log(pp.duration_s),
        float(down.mean()),
        np.log(max(pp.raw_strokes, 1)),
        np.log(path / height + 1e-9),
        np.log(width / height),
        np.log(mean_speed / height),
        np.log(float(sd.max()) / mean_speed + 1e-9),
        np.log(float(sd.std()) / mean_speed + 1e-9),
        float(p_down.mean()),
        float(p_down.std()),
        float(np.sum(w * np.cos(ang))),
        float(np.sum(w * np.sin(ang))),
        np.log(vx_pos / vx_neg),
        cx, cy,
    ], dtype=np.float64)

"""One impression of a master fingerprint as a sensor would image it, with its ground truth.

Geometry (placement, rotation, Cappelli's elastic distortion, contact area) comes from
`distortion`; this module adds the skin and the sensor: pressure and moisture set how much of
each ridge prints (dry skin prints thin broken ridges, wet skin fat merged ones), the contact
area fades out at its rim, and the sensor adds its background, blur, noise, and for a sweep
sensor uneven speed and row stripes. The true minutiae and singular points of the master are
carried through exactly the same mapping into the impression's pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ...errors import InvalidDataError
from ...templates.fingerprint.template import MinutiaType
from .distortion import ImpressionGeometry, random_geometry
from .master import MasterPrint
from .sensors import SensorProfile

GRID_STEP = 8  # the smooth maps are computed on a coarse grid and interpolated
BORDER_MARGIN = 8  # ground truth stays this far inside the image
MIN_INK = 0.5  # a true minutia counts only where the skin actually printed
CLEAR_INK_STD = 0.3  # ink contrast around a minutia above which it is legible


@dataclass
class Impression:
    image: np.ndarray  # uint8, h x w
    ppi: float
    minutiae: np.ndarray  # (n, 4): x, y, angle (ISO: counter-clockwise, y down), type
    singular_points: list[tuple[str, float, float]]
    finger_class: str
    info: dict = field(default_factory=dict)
    clear: np.ndarray | None = None  # per minutia: legible in this impression

    def ground_truth(self) -> dict:
        names = {int(MinutiaType.ENDING): "ending", int(MinutiaType.BIFURCATION): "bifurcation"}
        clear = self.clear if self.clear is not None else np.ones(len(self.minutiae), bool)
        return {
            "ppi": self.ppi, "width": int(self.image.shape[1]), "height": int(self.image.shape[0]),
            "finger_class": self.finger_class,
            "angle_convention": "radians, counter-clockwise from +x with y pointing down "
                                "(ISO/IEC 19794-2); the direction bisects the minutia's Y: "
                                "endings point into their ridge, bifurcations between their "
                                "branches",
            "minutiae": [{"x": round(float(x), 2), "y": round(float(y), 2),
                          "angle": round(float(a), 4), "type": names[int(t)],
                          "clear": bool(c)}
                         for (x, y, a, t), c in zip(self.minutiae, clear)],
            "clear_rule": "clear = the ridges around the minutia printed with contrast (not lost "
                          "in a dry patch, smudged by moisture or outside the contact area)",
            "singular_points": [{"kind": k, "x": round(x, 2), "y": round(y, 2)}
                                for k, x, y in self.singular_points],
            **self.info,
        }


def _smooth_noise(rng, h, w, cell, octaves=2):
    """Low-frequency noise in about [-1, 1] (bilinear upsampling of a coarse random grid)."""
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        c = max(2, int(cell / 2 ** o))
        g = rng.standard_normal((h // c + 2, w // c + 2)).astype(np.float32)
        out += amp * cv2.resize(g, (w + 2 * c, h + 2 * c), interpolation=cv2.INTER_CUBIC)[
            c:c + h, c:c + w]
        amp *= 0.5
    return out / 1.5


class _Sweep:
    """Thermal sweep: output row q shows sensor row g(q), g monotone (finger speed varies)."""

    def __init__(self, rng, h):
        knots = np.clip(1 + 0.07 * rng.standard_normal(8), 0.85, 1.2)
        speed = np.interp(np.arange(h), np.linspace(0, h - 1, 8), knots)
        g = np.concatenate([[0.0], np.cumsum(speed)[:-1]])
        self.g = g * (h - 1) / g[-1]
        self.q = np.arange(h, dtype=np.float64)

    def rows(self, q):  # output row -> geometric row
        return np.interp(q, self.q, self.g)

    def inverse(self, r):  # geometric row -> output row
        return np.interp(r, self.g, self.q)


def _forward(geom: ImpressionGeometry, sweep, x, y):
    qx, qy = geom.forward(x, y)
    if sweep is not None:
        qy = sweep.inverse(qy)
    return qx, qy


def render_impression(master: MasterPrint, profile: SensorProfile, rng: np.random.Generator,
                      condition: str = "normal") -> Impression:
    """Render one impression; `condition` is one of FVC2002's: normal, displaced, dry, wet
    (`distortion.impression_condition(k)` gives the one for impression k)."""
    if condition not in ("normal", "displaced", "dry", "wet"):
        raise InvalidDataError(f"unknown impression condition {condition!r}; use normal, "
                               "displaced, dry or wet")
    w, h, ppi = profile.width, profile.height, profile.ppi
    geom = random_geometry(rng, master.pattern, w, h, ppi, contact=profile.contact,
                           displaced=condition == "displaced")
    sweep = _Sweep(rng, h) if profile.sweep else None

    # backward map on a coarse grid, then interpolated to every pixel (the warp is smooth)
    gh, gw = h // GRID_STEP + 2, w // GRID_STEP + 2
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float64) * GRID_STEP
    rows = sweep.rows(gy) if sweep is not None else gy
    mx, my = geom.backward(gx, rows)
    a, b = geom.contact_axes
    ccx = master.pattern.centre[0] + geom.contact_offset[0]
    ccy = master.pattern.centre[1] + geom.contact_offset[1]
    e = ((mx - ccx) / a) ** 2 + ((my - ccy) / b) ** 2
    contact = np.clip((1.0 - e) / 0.18, 0.0, 1.0)
    map_x = _upsample_exact(mx, h, w)
    map_y = _upsample_exact(my, h, w)
    contact_px = np.clip(_upsample_exact(contact, h, w), 0, 1)

    ridge = cv2.remap(master.ridge, map_x, map_y, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    finger = cv2.remap(master.soft_mask, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    scars = cv2.remap(master.scars, map_x, map_y, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ridge = cv2.GaussianBlur(ridge, (0, 0), 0.9 * geom.scale)

    # moisture: -1 dry .. +1 wet; dry skin lifts the print threshold (thin, broken ridges),
    # wet skin lowers it (fat ridges, valleys filling up in patches)
    bias = {"dry": -0.65, "wet": 0.6}.get(condition, profile.moisture_bias)
    moisture = float(np.clip(rng.normal(bias, 0.3), -1, 1))
    wear = master.wear
    # how well this capture went overall (0 poor .. 1 excellent): contrast, blur, noise, smudges
    capture = float(rng.beta(2.0, 1.6))
    threshold = (-0.6 * moisture - 0.35 * (geom.pressure - 0.5)
                 + 0.45 * _smooth_noise(rng, h, w, 48) + 0.9 * (1.0 - contact_px))
    patches = _smooth_noise(rng, h, w, 36)
    severity = 2.2 * (1.6 - capture)
    if moisture > 0:  # valleys fill up, but some ridge structure still shows through
        threshold -= np.minimum(severity * moisture * np.maximum(patches - 0.35, 0), 0.8)
    else:
        threshold += severity * -moisture * np.maximum(patches - 0.35, 0)
    # ridge edges are never smooth: fine noise roughens them (skin texture, pores)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.9)
    threshold += (0.45 + 0.3 * wear) * fine
    # sweat pores: small dry dots along the ridges (about one per 0.5 mm of ridge)
    n_pores = int(rng.poisson(h * w / 160.0))
    pores = np.zeros((h, w), np.float32)
    pores[rng.integers(0, h, n_pores), rng.integers(0, w, n_pores)] = 1.0
    threshold += 9.0 * cv2.GaussianBlur(pores, (0, 0), 0.9) * (ridge > 0.3)
    dryness = max(-moisture, 0.0) + wear
    if dryness > 0:  # dry or worn skin: pores and breaks along the ridges
        breaks = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.6)
        threshold += dryness * 3.0 * np.maximum(breaks - 0.15, 0)
    threshold += scars + _creases(rng, h, w)
    ink = 1.0 / (1.0 + np.exp(-(ridge - threshold) / 0.12))
    # at the contact rim ridges thin out and break (threshold above); only the very edge fades
    ink *= np.clip((finger * contact_px - 0.1) * 3.0, 0, 1)

    bg = rng.uniform(*profile.background)
    # contrast varies from capture to capture (pressure, platen, gain)
    ridge_level = bg - (bg - rng.uniform(*profile.ridge_level)) * (0.45 + 0.55 * capture)
    img = bg + profile.texture * _smooth_noise(rng, h, w, 64) - (bg - ridge_level) * ink
    if moisture > 0.3:  # wet: moisture smears into valleys near ridges
        img -= 25 * (moisture - 0.3) * cv2.GaussianBlur(ink, (0, 0), 3.0)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0),
                           profile.blur_sigma * (2.0 - capture) * rng.uniform(0.85, 1.1))
    sigma = np.interp(capture, [0, 1], profile.noise_sigma[::-1]) * rng.uniform(0.8, 1.25)
    img += rng.normal(0, sigma, (h, w)).astype(np.float32)
    if profile.column_gain > 0:  # column read-out: each column its own gain
        img = (img - bg) * (1 + profile.column_gain * rng.standard_normal((1, w))).astype(
            np.float32) + bg
    if sweep is not None:  # per-row gain stripes of a sweep sensor
        img = (img - bg) * (1 + 0.04 * rng.standard_normal((h, 1))).astype(np.float32) + bg
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    # ground truth through the same mapping
    m = master.minutiae
    qx, qy = _forward(geom, sweep, m[:, 0], m[:, 1])
    eps = 2.0
    qx1, qy1 = _forward(geom, sweep, m[:, 0] + eps * np.cos(m[:, 2]),
                        m[:, 1] + eps * np.sin(m[:, 2]))
    theta = np.arctan2(qy1 - qy, qx1 - qx)
    inside = ((qx >= BORDER_MARGIN) & (qx <= w - 1 - BORDER_MARGIN)
              & (qy >= BORDER_MARGIN) & (qy <= h - 1 - BORDER_MARGIN))
    xi = np.clip(np.round(qx).astype(int), 0, w - 1)
    yi = np.clip(np.round(qy).astype(int), 0, h - 1)
    printed = cv2.GaussianBlur(np.clip(finger * contact_px * 1.6, 0, 1), (0, 0), 3)
    visible = inside & (printed[yi, xi] >= MIN_INK)
    gt = np.stack([qx, qy, np.mod(-theta, 2 * np.pi), m[:, 3]], axis=1)[visible]
    # "clear": the ridges around the minutia printed with contrast (not lost in a dry patch or
    # drowned in a wet one); local standard deviation of the ink over about a ridge period
    mean = cv2.GaussianBlur(ink, (0, 0), 4.0)
    std = np.sqrt(np.maximum(cv2.GaussianBlur(ink * ink, (0, 0), 4.0) - mean * mean, 0))
    clear = std[yi, xi][visible] >= CLEAR_INK_STD
    sps = []
    for kind, sx, sy in master.singular_points:
        px, py = _forward(geom, sweep, np.array([sx]), np.array([sy]))
        if 0 <= px[0] < w and 0 <= py[0] < h:
            sps.append((kind, float(px[0]), float(py[0])))
    info = {"condition": condition, "capture_quality": round(capture, 3),
            "moisture": round(moisture, 3), "pressure": round(geom.pressure, 3),
            "rotation_deg": round(float(np.rad2deg(geom.rotation)), 2)}
    return Impression(image, ppi, gt, sps, master.pattern.kind, info, clear)


def _creases(rng, h, w) -> np.ndarray:
    """Skin creases: thin lines where the skin does not touch (raise the threshold). The
    finger's permanent ones are on the master (`MasterPrint.scars`); these come and go."""
    out = np.zeros((h, w), np.float32)
    for _ in range(int(rng.poisson(0.6))):
        angle = rng.normal(0, 0.35) + (np.pi / 2 if rng.random() < 0.25 else 0)
        cx, cy = rng.uniform(0, w), rng.uniform(0.2 * h, h)
        length = rng.uniform(0.2, 0.7) * w
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        cv2.line(out, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)),
                 float(rng.uniform(1.0, 2.5)), int(rng.integers(1, 4)), cv2.LINE_AA)
    return cv2.GaussianBlur(out, (0, 0), 1.0)


def _upsample_exact(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of values given at multiples of GRID_STEP to every pixel."""
    gh, gw = grid.shape
    ys = np.arange(h, dtype=np.float32) / GRID_STEP
    xs = np.arange(w, dtype=np.float32) / GRID_STEP
    mx, my = np.meshgrid(xs, ys)
    return cv2.remap(grid.astype(np.float32), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)

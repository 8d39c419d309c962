"""Synthetic near-infrared eye images with identity and ground truth.

An identity (`IrisIdentity`, from a seed) is the eye's own texture, drawn once on a polar sheet
(rows = fraction of the way from the pupil boundary to the limbus, columns = angle): radial
fibres (noise smoothed along the radius far more than along the angle), crypts (dark lacunae),
concentric contraction furrows, the collarette (a bright zig-zag ring about a third of the way
out), and a darker limbal band. Its fixed anatomy (iris radius, pupil size at rest, pupil offset,
iris grey level) comes from the same seed.

A capture (`render_eye`) maps that sheet onto the image under the changes two captures of one eye
show: pupil dilation (the sheet stretches linearly between pupil and limbus, the model the
rubber-sheet normaliser inverts), eye rotation, position in the frame, illumination gain and
offset, defocus, sensor noise, eyelids at a varying opening with lashes hanging from the upper
one, and the illuminator's specular highlights on the cornea. Ground truth (circles, lids,
capture parameters) is returned beside the image (`EyeTruth.to_json`, the sidecar).

Grey levels follow NIR iris cameras (CASIA-IrisV1, MMU2): pupil 15-35, iris 90-150 with texture
contrast of about +-20, sclera 160-200, skin 140-190.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ...errors import InvalidDataError

SHEET_ROWS = 64  # radial samples of the identity's texture sheet
SHEET_COLS = 720  # angular samples (half a degree each)
IMAGE_SIZE = (320, 280)  # width, height: the frame of CASIA-IrisV1 and of the simulator camera


@dataclass(frozen=True)
class CaptureParams:
    """How one capture differs from another of the same eye (all drawn per capture)."""

    dilation: float = 1.0  # pupil radius relative to the identity's resting one
    rotation_deg: float = 0.0  # eye / head roll, counter-clockwise on the image
    shift: tuple[float, float] = (0.0, 0.0)  # eye position in the frame from the centre, pixels
    gain: float = 1.0  # illumination
    offset: float = 0.0
    blur_sigma: float = 0.6  # defocus, pixels
    noise_sigma: float = 2.0  # sensor noise, grey levels
    upper_lid: float = 0.55  # upper lid apex height above the pupil centre, in iris radii
    lower_lid: float = 0.85  # lower lid apex depth below the pupil centre, in iris radii
    lashes: int = 40  # number of lashes hanging from the upper lid
    glints: int = 1  # specular highlights (1: on the pupil, 2: a second on the iris)


@dataclass
class IrisIdentity:
    """One eye: its texture sheet and fixed anatomy, all from `seed`."""

    seed: int
    iris_radius: float = field(init=False)
    pupil_ratio: float = field(init=False)  # resting pupil / iris radius
    pupil_offset: tuple[float, float] = field(init=False)  # pupil centre from iris centre, px
    iris_level: float = field(init=False)
    sheet: np.ndarray = field(init=False, repr=False)  # (SHEET_ROWS, SHEET_COLS) float32, ~0 mean

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InvalidDataError(f"an iris identity seed is a non-negative integer, got {self.seed!r}")
        rng = np.random.default_rng([int(self.seed), 0x1215])
        self.iris_radius = float(rng.uniform(92, 108))
        self.pupil_ratio = float(rng.uniform(0.33, 0.45))
        self.pupil_offset = (float(rng.uniform(-4, 4)), float(rng.uniform(-3, 3)))
        self.iris_level = float(rng.uniform(95, 135))
        self.sheet = _texture_sheet(rng)


def _wrap_blur(a: np.ndarray, sy: float, sx: float) -> np.ndarray:
    """Gaussian blur that wraps along the angle (columns) and reflects along the radius."""
    pad = int(np.ceil(3 * sx)) + 1
    padded = np.concatenate([a[:, -pad:], a, a[:, :pad]], axis=1)
    out = cv2.GaussianBlur(padded, (0, 0), sigmaX=max(sx, 0.1), sigmaY=max(sy, 0.1),
                           borderType=cv2.BORDER_REFLECT)
    return out[:, pad:-pad]


def _texture_sheet(rng: np.random.Generator) -> np.ndarray:
    rows, cols = SHEET_ROWS, SHEET_COLS
    rho = np.linspace(0, 1, rows, dtype=np.float32)[:, None]
    col = np.arange(cols, dtype=np.float32)[None, :]
    # radial fibres: long along the radius, a few degrees wide; two scales
    fine = _wrap_blur(rng.standard_normal((rows, cols)).astype(np.float32), 6.0, 1.6)
    coarse = _wrap_blur(rng.standard_normal((rows, cols)).astype(np.float32), 10.0, 5.0)
    tex = fine / (fine.std() + 1e-6) * 0.9 + coarse / (coarse.std() + 1e-6) * 0.7
    # crypts: dark lacunae, elongated radially, mostly inside the collarette's outer zone
    for _ in range(int(rng.integers(10, 22))):
        r0, c0 = rng.uniform(0.15, 0.8), rng.uniform(0, cols)
        wr, wc = rng.uniform(0.04, 0.1), rng.uniform(4, 14)
        dc = (col - c0 + cols / 2) % cols - cols / 2
        tex -= rng.uniform(1.2, 2.5) * np.exp(-0.5 * (((rho - r0) / wr) ** 2 + (dc / wc) ** 2))
    # concentric contraction furrows in the outer (ciliary) zone, broken along the angle
    for _ in range(int(rng.integers(2, 5))):
        r0 = rng.uniform(0.5, 0.9)
        wobble = _wrap_blur(rng.standard_normal((1, cols)).astype(np.float32), 0.1, 20)[0]
        wobble = wobble / (np.abs(wobble).max() + 1e-6) * 0.03
        presence = _wrap_blur(rng.standard_normal((1, cols)).astype(np.float32), 0.1, 30)[0] > 0
        tex -= 1.2 * presence[None, :] * np.exp(-0.5 * ((rho - r0 - wobble[None, :]) / 0.015) ** 2)
    # collarette: a bright zig-zag ring about a third of the way out
    r_col = rng.uniform(0.25, 0.38)
    zig = _wrap_blur(rng.standard_normal((1, cols)).astype(np.float32), 0.1, 6)[0]
    zig = zig / (np.abs(zig).max() + 1e-6) * 0.06
    tex += 1.3 * np.exp(-0.5 * ((rho - r_col - zig[None, :]) / 0.03) ** 2)
    # pupillary zone a little brighter, limbal band darker (NIR)
    tex += 0.6 * (rho < r_col) - 1.5 * np.clip((rho - 0.85) / 0.15, 0, 1)
    tex -= tex.mean()
    return (tex / (tex.std() + 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class EyeTruth:
    """Ground truth of one rendered eye (image pixels, y down)."""

    identity: int
    pupil: tuple[float, float, float]  # x, y, r
    iris: tuple[float, float, float]
    upper_lid: tuple[float, float, float]  # apex x, apex y, curvature (y = apex + c (x - ax)^2)
    lower_lid: tuple[float, float, float]  # y = apex - c (x - ax)^2
    capture: CaptureParams

    def to_json(self) -> dict:
        d = asdict(self)
        d["capture"] = asdict(self.capture)
        return d


def random_capture(rng: np.random.Generator, *, difficulty: float = 1.0) -> CaptureParams:
    """The changes between two captures of one eye by a cooperative user at an iris camera.
    `difficulty` scales every change (0: identical captures)."""
    d = float(difficulty)
    return CaptureParams(
        dilation=float(1 + d * rng.uniform(-0.12, 0.12)),
        rotation_deg=float(d * rng.uniform(-8, 8)),
        shift=(float(d * rng.uniform(-12, 12)), float(d * rng.uniform(-8, 8))),
        gain=float(1 + d * rng.uniform(-0.12, 0.12)),
        offset=float(d * rng.uniform(-10, 10)),
        blur_sigma=float(0.5 + d * rng.uniform(0, 0.6)),
        noise_sigma=float(1.5 + d * rng.uniform(0, 2.0)),
        upper_lid=float(0.75 - d * rng.uniform(0, 0.25)),
        lower_lid=float(0.9 - d * rng.uniform(0, 0.15)),
        lashes=int(rng.integers(15, 15 + max(1, int(45 * d)) + 1)),
        glints=int(rng.integers(1, 3)),
    )


def render_eye(identity: IrisIdentity, capture: CaptureParams = CaptureParams(), *,
               seed: int = 0) -> tuple[np.ndarray, EyeTruth]:
    """(uint8 grey image 320 x 280, ground truth) of one capture of `identity`; `seed` draws the
    capture's own noise and lashes."""
    if not 0.5 <= capture.dilation <= 1.6:
        raise InvalidDataError(f"pupil dilation {capture.dilation} is outside 0.5-1.6")
    rng = np.random.default_rng([int(seed), int(identity.seed), 0x1217])
    w, h = IMAGE_SIZE
    ri = identity.iris_radius
    rp = float(np.clip(identity.pupil_ratio * capture.dilation, 0.2, 0.7)) * ri
    ix, iy = w / 2 + capture.shift[0], h / 2 + capture.shift[1]
    px, py = ix + identity.pupil_offset[0], iy + identity.pupil_offset[1]

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # skin, then the sclera's almond; everything in grey levels before gain
    skin = 165 + 8 * np.sin(xx / 37.0 + identity.seed) * np.cos(yy / 29.0)
    img = skin.astype(np.float32)
    sclera = ((xx - ix) / (ri * 1.9)) ** 2 + ((yy - iy) / (ri * 1.05)) ** 2 < 1
    img[sclera] = 185 - 10 * ((xx[sclera] - ix) / (ri * 1.9)) ** 2

    # iris: for every pixel, the angle round the pupil centre and how far it is from the pupil
    # boundary to the limbus along that ray (ray / iris-circle intersection)
    dx, dy = xx - px, yy - py
    dist = np.hypot(dx, dy)
    ux, uy = dx / np.maximum(dist, 1e-6), dy / np.maximum(dist, 1e-6)
    bx, by = px - ix, py - iy
    b = ux * bx + uy * by
    c = bx * bx + by * by - ri * ri
    t_limbus = -b + np.sqrt(np.maximum(b * b - c, 0))
    rho = (dist - rp) / np.maximum(t_limbus - rp, 1e-3)
    theta = np.arctan2(-dy, dx) - np.radians(capture.rotation_deg)  # counter-clockwise, y up
    sheet_x = (np.mod(theta, 2 * np.pi) / (2 * np.pi) * SHEET_COLS).astype(np.float32)
    sheet_y = (np.clip(rho, 0, 1) * (SHEET_ROWS - 1)).astype(np.float32)
    wrapped = np.concatenate([identity.sheet, identity.sheet[:, :2]], axis=1)
    tex = cv2.remap(wrapped, sheet_x, sheet_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    in_iris = (rho >= 0) & (rho <= 1)
    img[in_iris] = identity.iris_level + 20.0 * tex[in_iris]
    # the limbus is a soft step over a few pixels: blend iris into sclera
    edge = np.clip((rho - 0.97) / 0.06, 0, 1)
    ring = (rho > 0.97) & (rho < 1.03)
    img[ring] = (1 - edge[ring]) * (identity.iris_level + 20.0 * tex[ring]) + edge[ring] * img[ring]
    pupil = dist < rp
    img[pupil] = 22 + 6 * rng.standard_normal(int(pupil.sum())).astype(np.float32) * 0.3

    # eyelids: parabolas; skin above the upper and below the lower, with a shadow on the lid rim
    ua_y = py - capture.upper_lid * ri
    la_y = py + capture.lower_lid * ri
    uc = 0.5 / ri  # curvature: the upper lid rises half an iris radius one iris radius aside
    lc = 0.35 / ri
    upper_y = ua_y + uc * (xx - px) ** 2
    lower_y = la_y - lc * (xx - px) ** 2
    lid_skin = 160 + 6 * np.cos(yy / 11.0 + identity.seed)
    above = yy < upper_y
    below = yy > lower_y
    img[above] = lid_skin[above]
    img[below] = lid_skin[below]
    shadow = np.exp(-np.maximum(yy - upper_y, 0) / 4.0) * (yy >= upper_y)
    img -= 35 * shadow
    # lashes: dark curved strands hanging from the upper lid's margin over the iris
    lash_layer = np.zeros((h, w), np.uint8)
    for _ in range(capture.lashes):
        x0 = px + rng.uniform(-1.1, 1.1) * ri
        y0 = ua_y + uc * (x0 - px) ** 2
        length = rng.uniform(0.15, 0.45) * ri
        bend = rng.uniform(-0.4, 0.4)
        pts = []
        for s in np.linspace(0, 1, 8):
            pts.append((x0 + bend * length * s * s + rng.normal(0, 0.3), y0 + length * s))
        cv2.polylines(lash_layer, [np.round(np.array(pts) * 4).astype(np.int32)], False, 255,
                      thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_AA, shift=2)
    lash = cv2.GaussianBlur(lash_layer.astype(np.float32) / 255.0, (0, 0), 0.6)
    img = img * (1 - 0.8 * lash) + 30 * 0.8 * lash

    # illumination, defocus, noise
    img = img * capture.gain + capture.offset
    img = cv2.GaussianBlur(img, (0, 0), max(0.3, capture.blur_sigma))
    img += rng.normal(0, capture.noise_sigma, img.shape).astype(np.float32)
    # specular highlights of the illuminator on the cornea: sharp, saturated, after the blur
    for k in range(capture.glints):
        if k == 0:  # on the pupil, near its centre
            gx, gy = px + rng.uniform(-0.4, 0.4) * rp, py + rng.uniform(-0.4, 0.1) * rp
        else:  # a second one on the lower iris
            gx, gy = px + rng.uniform(-0.5, 0.5) * ri, py + rng.uniform(0.5, 0.7) * ri
        cv2.circle(img, (int(round(gx)), int(round(gy))), int(rng.integers(3, 6)), 252, -1,
                   lineType=cv2.LINE_AA)
    image = np.clip(img, 0, 255).astype(np.uint8)
    truth = EyeTruth(identity=int(identity.seed), pupil=(px, py, rp), iris=(ix, iy, ri),
                     upper_lid=(px, ua_y, uc), lower_lid=(px, la_y, lc), capture=capture)
    return image, truth


def eye_dataset(n_eyes: int, n_captures: int, *, seed: int = 0,
                difficulty: float = 1.0) -> list[tuple[int, int, np.ndarray, EyeTruth]]:
    """(eye, capture, image, truth) for `n_eyes` eyes x `n_captures` captures each."""
    if n_eyes < 1 or n_captures < 1:
        raise InvalidDataError("an iris data set needs at least one eye and one capture")
    out = []
    for eye in range(n_eyes):
        ident = IrisIdentity(seed * 100_003 + eye)
        for k in range(n_captures):
            rng = np.random.default_rng([seed, eye, k, 0x1219])
            image, truth = render_eye(ident, random_capture(rng, difficulty=difficulty),
                                      seed=int(rng.integers(2 ** 31)))
            out.append((eye, k, image, truth))
    return out


def save_eye(image: np.ndarray, truth: EyeTruth, path) -> None:
    """Write the eye as a PNG at `path` and its ground truth beside it (same name, `.json`)."""
    import json
    from pathlib import Path
    path = Path(path)
    if not cv2.imwrite(str(path.with_suffix(".png")), image):
        raise InvalidDataError(f"could not write the eye image {path}")
    path.with_suffix(".json").write_text(json.dumps(truth.to_json(), indent=1))

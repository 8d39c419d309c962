"""Iris segmentation: pupil and limbus circles, eyelid parabolas, occlusion mask.

Stages (each a small function, each result a typed value):
1. reflections painted over (`preprocess`);
2. pupil: the darkest local minima of a blurred, down-scaled image are candidate centres; around
   each, Daugman's integro-differential operator over the full circle (rewarding a dark interior)
   picks centre and radius; refined at full resolution;
3. limbus: the same operator over the lateral arcs only (lids cover top and bottom), centre near
   the pupil's (off-centre gaze moves the pupil inside the iris), radius > 1.3 pupil radii;
4. eyelids: a parabola search (the operator again, on vertical grey-level steps) above and below
   the pupil, inside the iris;
5. occlusion: above the upper / below the lower lid, eyelashes (pixels much darker than the
   iris) and specular highlights.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import InvalidSample
from .circles import best_circle, centre_grid
from .preprocess import remove_reflections
from .types import Circle, Eyelid, Segmentation


class SegmentationFailed(InvalidSample):
    """The pupil or the iris boundary could not be found."""
    hint = "no eye found: centre the eye in the camera's view, open the eyelids and retake"


@dataclass(frozen=True)
class SegmentationParams:
    coarse_side: int = 160  # longer image side for the coarse pupil search (pixels)
    pupil_min_frac: float = 0.025  # pupil radius range as fractions of the shorter image side
    pupil_max_frac: float = 0.25
    n_pupil_candidates: int = 20
    min_iris_to_pupil: float = 1.4
    # a pupil under 0.22 of the iris radius is a lash spot, not a pupil (ISO/IEC 29794-6 finds
    # pupil/iris ratios of 0.2-0.7 acceptable; CASIA-IrisV1 >= 0.27, MMU2 >= 0.22 bar the lash
    # spots at 0.17-0.20); 6.0 -> 4.5: MMU2 EER 4.11 -> 3.59%, FTE 1.01 -> 0.81%, CASIA FTE 0.13 -> 0
    max_iris_to_pupil: float = 4.5
    max_iris_frac: float = 0.6  # limbus radius at most this fraction of the shorter image side
    min_iris_frac: float = 0.15  # and at least this one (iris cameras frame the eye closely)
    # a pixel this many robust sigmas darker than the iris is a lash (1.2: lashes over a
    # low-contrast iris are barely darker than it; 2.5 left most of them in the code)
    lash_sigmas: float = 1.2
    nested_min_contrast: float = 6.0  # grey levels a disc inside the pupil needs to replace it
    lid_margin: float = 0.05  # band along each fitted lid also hidden, in iris radii
    pupil_refine_frac: float = 0.25  # centre search at full resolution, in pupil radii
    glint_bonus: float = 1.5  # a pupil candidate holding a specular highlight scores this much more


_FULL = np.linspace(0, 2 * np.pi, 64, endpoint=False)
_FULL_COARSE = np.linspace(0, 2 * np.pi, 32, endpoint=False)
# lateral arcs, lower side favoured: the upper lid covers more of the iris than the lower one
_LATERAL = np.concatenate([np.linspace(-np.pi / 4, np.pi / 9, 14),
                           np.linspace(np.pi - np.pi / 9, np.pi + np.pi / 4, 14)])


#: largest iris image (pixels) segmented as it is; iris cameras deliver 640 x 480 or so, and the
#: full-frame masks below grow with the frame, so a bigger one is refused, not allocated
MAX_PIXELS = 2048 * 2048
#: a highlight counts as the cornea's reflection only on ground this dark (percentile of the image)
GLINT_GROUND_PERCENTILE = 25.0


def segment(image: np.ndarray, params: SegmentationParams = SegmentationParams()) -> Segmentation:
    if image.size > MAX_PIXELS:
        raise InvalidSample(f"iris image of {image.shape[1]}x{image.shape[0]} pixels is larger than "
                            f"the {MAX_PIXELS} pixels segmented",
                            hint="crop the eye region or downsample the image to at most 2048x2048")
    pre = remove_reflections(image)
    smooth = cv2.GaussianBlur(pre.image, (5, 5), 1.2).astype(np.float32)
    pupil = find_pupil(smooth, params, glints=glint_centres(pre.reflections, pre.image))
    iris = find_limbus(smooth, pupil, params)
    grad_y = cv2.Sobel(cv2.GaussianBlur(pre.image, (0, 0), 2.0).astype(np.float32), cv2.CV_32F, 0, 1, ksize=3)
    upper = find_eyelid(grad_y, pupil, iris, upper=True)
    lower = find_eyelid(grad_y, pupil, iris, upper=False)
    occlusion = occlusion_mask(pre.image, pre.reflections, pupil, iris, upper, lower, params)
    return Segmentation(pupil=pupil, iris=iris, upper_eyelid=upper, lower_eyelid=lower,
                        occlusion=occlusion)


def glint_centres(reflections: np.ndarray, painted: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) x, y centres of the specular highlights (at most 32, the largest); given the
    painted image, only those on dark ground (the darkest quarter of the image): the illuminator's
    image on the cornea lies on the pupil or the iris, while highlights on skin, lids or
    spectacle frames lie on bright ground."""
    n, _, stats, cents = cv2.connectedComponentsWithStats(reflections.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros((0, 2))
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:32] + 1
    cents = cents[order].astype(np.float64)
    if painted is not None:
        h, w = painted.shape
        xi = np.clip(np.round(cents[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(cents[:, 1]).astype(int), 0, h - 1)
        cents = cents[painted[yi, xi] <= np.percentile(painted, GLINT_GROUND_PERCENTILE)]
    return cents


def _holds_glint(glints: np.ndarray | None, x: float, y: float, r: float) -> bool:
    """Whether a highlight lies in the disc: the cornea mirrors the camera's illuminator close
    to the pupil, so a dark disc holding one is far likelier the pupil than a lash cluster."""
    if glints is None or glints.shape[0] == 0:
        return False
    return bool((np.hypot(glints[:, 0] - x, glints[:, 1] - y) <= r * 1.2).any())


def find_pupil(smooth: np.ndarray, params: SegmentationParams,
               glints: np.ndarray | None = None) -> Circle:
    h, w = smooth.shape
    scale = min(1.0, params.coarse_side / max(h, w))
    small = cv2.resize(smooth, (max(8, int(round(w * scale))), max(8, int(round(h * scale)))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else smooth
    side = min(h, w)
    r_min = max(3.0, params.pupil_min_frac * side * scale)
    r_max = max(r_min + 4, params.pupil_max_frac * side * scale)
    xs, ys, rs = dark_blob_candidates(small, r_min, r_max, params.n_pupil_candidates)
    if xs.size == 0:
        raise SegmentationFailed("no dark region that could be a pupil was found")
    step = float(max(1, round(r_min * 0.5)))
    ranked = []
    for x0, y0, r0 in zip(xs, ys, rs):
        # radii around the blob's own scale, so a pupil's blob cannot grow into its iris
        radii = np.arange(max(1.0, max(r_min, r0 / 1.8) - 3), min(r_max, r0 * 1.8) + 3, 1.0)
        # a blob's darkest point can sit off the pupil's centre (lashes merge with the pupil):
        # hill-climb on a sparse grid until the centre stops moving, then settle on a fine one
        px, py = float(x0), float(y0)
        for _ in range(8):
            gx, gy = centre_grid(px, py, 2 * step, 2 * step, step)
            nx, ny, pr, ps = best_circle(small, gx, gy, radii, _FULL_COARSE, width=2, min_inside=0.9,
                                         quantile=0.25, min_radius=r_min)
            moved = (nx, ny) != (px, py)
            px, py = nx, ny
            if not moved or not np.isfinite(ps):
                break
        if step > 1 and np.isfinite(ps):
            gx, gy = centre_grid(px, py, step, step, 1.0)
            px, py, pr, ps = best_circle(small, gx, gy, radii, _FULL, width=2, min_inside=0.9,
                                         quantile=0.25, min_radius=r_min)
        if np.isfinite(ps):
            ranked.append((ps, px, py, pr))
    if not ranked:
        raise SegmentationFailed("no circular dark disc that could be a pupil was found")
    # a dark spot among lashes can out-score the pupil on its own; the pupil is the one with an
    # iris around it, so the best few are judged together with their best limbus
    ranked.sort(reverse=True)
    best, best_total = None, -np.inf
    judged = 0
    scored: list[tuple[float, float, float, float]] = []
    for ps, px, py, pr in ranked:
        lim = _limbus_search(small, Circle(px, py, pr), params, side * scale, coarse=True)
        if lim is None:
            continue  # no room for an iris of plausible size round it
        judged += 1
        # both boundaries must be there: a lash cluster or a spectacle frame makes a strong dark
        # disc with no iris round it (a sum let its pupil contrast alone win), so the two
        # contrasts are multiplied (geometric mean)
        total = float(np.sqrt(max(ps, 0.0) * max(lim[3], 0.0)))
        if _holds_glint(glints, px / scale, py / scale, pr / scale):
            total *= params.glint_bonus
        scored.append((total, px, py, pr))
        if total > best_total:
            best, best_total = (px, py, pr), total
        if judged >= 20:
            break
    if best is None:
        best = ranked[0][1:]
    else:
        # a small dark iris can pass for a pupil (its limbus then is the lid or sclera): a
        # well-scored disc nested in the winner, well inside it, is the real pupil
        bx, by, br = best
        nested = [c for c in scored if c[0] >= 0.5 * best_total and c[3] <= 0.6 * br
                  and np.hypot(c[1] - bx, c[2] - by) <= 0.3 * br]
        if nested:
            best = max(nested)[1:]
    x, y, r = best
    # refine at full resolution
    x, y, r = x / scale, y / scale, r / scale
    step = max(1.0, 0.5 / scale)
    # down to half the coarse radius: a small pupil blurred at the coarse scale looks bigger
    radii = np.arange(max(2.0, min(r - 3 / scale, 0.5 * r)), r + 3 / scale + 1, 0.5 if step <= 1 else 1.0)
    radii = np.concatenate([np.arange(radii[0] - 3, radii[0], 1.0), radii, radii[-1] + np.arange(1, 4)])
    # centre first on a sparse grid a quarter of the radius wide: lashes merged with the pupil's
    # top make the coarse scale see a bigger disc whose centre sits well above the pupil's
    # (CASIA 004_1_1: 15 px off, radius 57 for 44)
    half = 2.5 / scale * 0.5 + 1  # the coarse grid's spacing, and a pixel more
    wide = params.pupil_refine_frac * r
    if wide > 2 * half:  # only where a coarse pixel is small against the pupil
        sparse = float(np.ceil(wide / 5))
        gx, gy = centre_grid(x, y, wide, wide, sparse)
        x, y, _, _ = best_circle(smooth, gx, gy, radii, _FULL_COARSE, width=2, min_inside=0.9,
                                 quantile=0.25, min_radius=r_min / scale)
    gx, gy = centre_grid(x, y, half, half, 1.0)
    x, y, r, score = best_circle(smooth, gx, gy, radii, _FULL, width=2, min_inside=0.9, quantile=0.25,
                                 min_radius=r_min / scale)
    if not np.isfinite(score) or score <= 0:
        raise SegmentationFailed("no circular dark-to-bright boundary (pupil) was found")
    found = Circle(x, y, r, score)
    inner = nested_pupil(smooth, found, r_min / scale, params, glints)
    return inner if inner is not None else found


def nested_pupil(smooth: np.ndarray, outer: Circle, r_min: float,
                 params: SegmentationParams, glints: np.ndarray | None = None) -> Circle | None:
    """A clearly darker disc inside `outer`, or None. In a small, low-contrast image the whole
    iris (a dark disc on bright sclera) out-scores its pupil; a real pupil is flat inside (no
    disc in it steps up all round: contrast 0 on every CASIA pupil), an iris-taken-for-a-pupil
    has its pupil inside (MMU2: 12-25 grey levels against an outer score of 8-11)."""
    lo = max(r_min, outer.r / params.max_iris_to_pupil, 3.0)
    hi = outer.r * 0.6
    if hi <= lo + 1:
        return None
    radii = np.arange(lo - 3, hi + 3, 1.0)
    searches = [(outer.x, outer.y, 0.35 * outer.r)]
    if glints is not None and glints.shape[0]:
        # a highlight inside usually sits in the pupil or at its rim: search round it too, and
        # prefer a disc that holds it (a lash spot elsewhere in the iris can be as dark)
        d = np.hypot(glints[:, 0] - outer.x, glints[:, 1] - outer.y)
        if d.min() <= 1.2 * outer.r:
            g = glints[int(np.argmin(d))]
            searches.append((float(g[0]), float(g[1]), max(lo, 0.3 * outer.r)))
    best, best_rank = None, -np.inf
    for cx, cy, half in searches:
        found = _disc_search(smooth, cx, cy, half, radii, lo)
        if found is None:
            continue
        rank = found[3] * (params.glint_bonus if _holds_glint(glints, *found[:3]) else 1.0)
        if rank > best_rank:
            best, best_rank = found, rank
    if best is None or best[3] < max(params.nested_min_contrast, 0.75 * outer.score):
        return None
    return Circle(*best)


def _disc_search(smooth: np.ndarray, cx: float, cy: float, half: float, radii: np.ndarray,
                 lo: float) -> tuple[float, float, float, float] | None:
    """Best dark disc with its centre within `half` of (cx, cy): sparse grid, then fine."""
    step = max(1.0, round(half / 6))
    gx, gy = centre_grid(cx, cy, half, half, step)
    x, y, r, score = best_circle(smooth, gx, gy, radii, _FULL_COARSE, width=2, min_inside=0.9,
                                 quantile=0.25, min_radius=lo)
    if not np.isfinite(score):
        return None
    if step > 1:
        gx, gy = centre_grid(x, y, step, step, 1.0)
        x, y, r, score = best_circle(smooth, gx, gy, radii, _FULL, width=2, min_inside=0.9,
                                     quantile=0.25, min_radius=lo)
    return (x, y, r, score) if np.isfinite(score) else None


def dark_blob_candidates(small: np.ndarray, r_min: float, r_max: float,
                         n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres and radii of the strongest dark blobs (difference of Gaussians at a few scales
    between the smallest and largest pupil): a pupil is a dark disc in a brighter ring, whereas
    lashes and brows are dark but thin, so they answer weaker at pupil scales. Peaks are kept per
    scale, so a pupil inside a dark iris is found at its own scale, not merged into the iris."""
    h, w = small.shape
    margin = max(1, int(r_min))
    found = []
    for r in np.geomspace(r_min, r_max, 6):
        sigma = r / 1.4
        dog = cv2.GaussianBlur(small, (0, 0), sigma * 1.8) - cv2.GaussianBlur(small, (0, 0), sigma)
        k = int(2 * round(max(r_min, r * 0.7)) + 1)
        peaks = (dog >= cv2.dilate(dog, np.ones((k, k), np.uint8))) & (dog > 2.0)
        peaks[:margin, :] = peaks[-margin:, :] = False
        peaks[:, :margin] = peaks[:, -margin:] = False
        ys, xs = np.nonzero(peaks)
        for x, y in zip(xs, ys):
            found.append((float(dog[y, x]), x, y, r))
    found.sort(reverse=True)
    # a quota per scale: a small pupil in a dark iris answers far weaker than the iris disc and
    # lash clusters at larger scales, so one global ranking crowded it out (MMU2)
    quota = max(1, -(-n // 6))
    picked: list[tuple[int, int, float]] = []
    per_scale: dict[float, int] = {}
    for _, x, y, r in found:  # drop a peak that repeats one already taken at a similar scale
        if per_scale.get(r, 0) >= quota:
            continue
        if any(abs(x - a) <= r * 0.5 and abs(y - b) <= r * 0.5 and 0.6 < r / c < 1.7 for a, b, c in picked):
            continue
        picked.append((x, y, r))
        per_scale[r] = per_scale.get(r, 0) + 1
    arr = np.array(picked, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _limbus_search(image: np.ndarray, pupil: Circle, params: SegmentationParams, side: float,
                   *, coarse: bool) -> tuple[float, float, float, float] | None:
    """Best limbus circle around `pupil` in `image` (same pixel scale as the pupil)."""
    r_lo = max(pupil.r * params.min_iris_to_pupil, pupil.r + 2, params.min_iris_frac * side)
    r_hi = min(pupil.r * params.max_iris_to_pupil, params.max_iris_frac * side)
    if r_hi <= r_lo + 2:
        return None
    # the limbus centre sits within a few pixels of the pupil centre (more offset means the
    # search latched onto the collarette on one side and the sclera on the other)
    # lateral arcs pin the limbus centre well across but hardly up and down: keep its height
    # within a few pixels of the pupil centre (a free height only adds noise between captures)
    hx, hy = max(2.0, 0.2 * pupil.r), max(1.0, 0.05 * pupil.r)
    step = max(1.0, hx / 3) if coarse else 1.0
    gx, gy = centre_grid(pupil.x, pupil.y, hx, hy, step)
    # wide rings (a fifth of the pupil radius, in the image's own scale): the limbus is a broad
    # step, the collarette a thin one
    width = int(max(2, round(0.2 * pupil.r)))
    radii = np.arange(r_lo - width - 1, r_hi + width + 2, 1.0)
    # the inner ring must not reach into the pupil's own (blurred) edge
    r_min = max(r_lo, pupil.r * 1.15 + width + 1)
    x, y, r, score = best_circle(image, gx, gy, radii, _LATERAL, width=width, min_inside=0.5,
                                 quantile=0.3, min_radius=r_min)
    return (x, y, r, score) if np.isfinite(score) else None


def find_limbus(smooth: np.ndarray, pupil: Circle, params: SegmentationParams) -> Circle:
    h, w = smooth.shape
    side = min(h, w)
    smooth = cv2.GaussianBlur(smooth, (0, 0), 2.0)  # the limbus is a broad step, texture is fine
    s = 0.5 if side >= 160 else 1.0
    small = cv2.resize(smooth, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else smooth
    found = _limbus_search(small, Circle(pupil.x * s, pupil.y * s, pupil.r * s), params, side * s,
                           coarse=True)
    if found is None:
        raise SegmentationFailed(f"pupil radius {pupil.r:.0f} px leaves no room for an iris")
    x, y, r = found[0] / s, found[1] / s, found[2] / s
    r_lo = max(pupil.r * params.min_iris_to_pupil, pupil.r + 4, params.min_iris_frac * side)
    r_hi = min(pupil.r * params.max_iris_to_pupil, params.max_iris_frac * side)
    gx, gy = centre_grid(x, y, 1.0 / s, 1.0, 1.0)
    width = int(max(3, round(0.2 * pupil.r)))
    radii = np.arange(max(r_lo, r - 2 / s) - width - 1, min(r_hi, r + 2 / s) + width + 2, 1.0)
    x, y, r, score = best_circle(smooth, gx, gy, radii, _LATERAL, width=width, min_inside=0.5,
                                 quantile=0.3, min_radius=max(r_lo, pupil.r * 1.15 + width + 1))
    if not np.isfinite(score) or score <= 0:
        raise SegmentationFailed("no iris-sclera boundary (limbus) was found around the pupil")
    return Circle(x, y, r, score)


def find_eyelid(grad_y: np.ndarray, pupil: Circle, iris: Circle, *, upper: bool) -> Eyelid | None:
    """Parabola with the strongest mean vertical grey-level step between the iris top (bottom)
    and the pupil; the lid's skin is brighter than the iris below (above) it."""
    h, w = grad_y.shape
    ri = iris.r
    signed = -grad_y if upper else grad_y
    # the pupil rim is a strong step too: keep it out of the lid's evidence
    yy, xx = np.ogrid[:h, :w]
    inside_pupil = (xx - pupil.x) ** 2 + (yy - pupil.y) ** 2 <= (pupil.r * 1.25) ** 2
    signed = np.where(inside_pupil, 0.0, signed).astype(np.float32)
    if upper:
        apex_ys = np.arange(iris.y - ri * 1.05, pupil.y - pupil.r * 0.6, 1.5)
    else:
        # the lower lid seldom reaches the pupil; starting below it keeps the pupil rim out
        apex_ys = np.arange(pupil.y + pupil.r * 1.1, iris.y + ri * 1.05, 1.5)
    if apex_ys.size == 0:
        return None
    apex_xs = iris.x + ri * np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    drops = np.array([0.05, 0.15, 0.3, 0.5, 0.75])  # lid drop at +-ri, in iris radii
    xs = iris.x + ri * np.linspace(-0.95, 0.95, 41)
    ay, ax, dr = np.meshgrid(apex_ys, apex_xs, drops, indexing="ij")
    ay, ax, dr = ay.ravel(), ax.ravel(), dr.ravel()
    curv = dr / ri  # so that (x - apex)^2 * curv = drop * ri at distance ri
    sign = 1.0 if upper else -1.0
    px = np.broadcast_to(xs[None, :], (ay.size, xs.size)).astype(np.float32)
    py = (ay[:, None] + sign * curv[:, None] * ((xs[None, :] - ax[:, None]) / ri) ** 2 * ri).astype(np.float32)
    vals = cv2.remap(signed, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # only the stretch that runs across the iris disc counts
    in_iris = (px - iris.x) ** 2 + (py - iris.y) ** 2 <= ri ** 2
    n_in = in_iris.sum(axis=1)
    score = np.where(n_in >= 8, (vals * in_iris).sum(axis=1) / np.maximum(n_in, 1), -np.inf)
    best = int(np.argmax(score))
    if not np.isfinite(score[best]) or score[best] <= 0:
        return None
    return Eyelid(float(ax[best]), float(ay[best]), float(curv[best] / ri), upper, float(score[best]))


def occlusion_mask(image: np.ndarray, reflections: np.ndarray, pupil: Circle, iris: Circle,
                   upper: Eyelid | None, lower: Eyelid | None,
                   params: SegmentationParams) -> np.ndarray:
    h, w = image.shape
    yy, xx = np.mgrid[:h, :w]
    occluded = reflections.copy()
    # a margin along each lid: its lash line and shadow run just inside the fitted edge, and where
    # the lid crosses the iris differs between captures, so bits there never agree
    margin = params.lid_margin * iris.r
    if upper is not None:
        occluded |= yy < upper.y_at(xx) + margin
    if lower is not None:
        occluded |= yy > lower.y_at(xx) - margin
    ring = ((xx - iris.x) ** 2 + (yy - iris.y) ** 2 <= iris.r ** 2) & \
           ((xx - pupil.x) ** 2 + (yy - pupil.y) ** 2 > pupil.r ** 2)
    visible = ring & ~occluded
    if visible.sum() > 50:
        vals = image[visible].astype(np.float32)
        med = float(np.median(vals))
        sigma = 1.4826 * float(np.median(np.abs(vals - med))) + 1.0
        occluded |= ring & (image < med - params.lash_sigmas * sigma)
        occluded |= ring & (image > med + 2 * params.lash_sigmas * sigma)
    return occluded

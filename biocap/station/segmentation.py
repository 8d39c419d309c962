"""Slap segmentation: each finger of a 4-4-2 slap, its position, box, rotation and fingertip.

    result = segment_slap(sample)                      # Sample of position 13, 14 or 15
    for f in result.fingers: f.position, f.box, f.sample   # the fingertip as its own Sample
    result.missing                                     # positions expected but not found

The way of NIST's NFSEG (NBIS), on a quarter-resolution map of the slap:
1. foreground: the print is darker than the glass once ridges and valleys are averaged;
   Otsu's threshold on that darkness, cleaned by a small opening and closing;
2. components: each blob of print (a fingertip, a middle-phalanx mark, a palm mark); blobs too
   wide for one fingertip (touching fingers) are split at the deepest valley of their column
   profile;
3. fingers: blobs are chained down each finger's axis (a phalanx mark lies below its
   fingertip, in line with it); the top blob of a chain is the fingertip, the chain gives the
   finger's axis; a fingertip blob that runs on past the crease is cut at the crease (the
   lightest band across the finger between 0.8 and 1.9 finger widths from the top);
4. positions: fingers left to right take the slap's finger order (right four: index..little;
   left four: little..index; thumbs: left, right). With fingers missing, the order-keeping
   assignment that best fits a hand (heights: the middle finger highest, the little finger
   lowest and smallest; even spacing) is chosen, so the missing ones are named.
The fingertip of each finger is cut out upright (rotated by its angle), other fingers blanked.
Parameters are below with a one-line reason each; docs/decisions/20-slap-segmentation.md has
what was tried.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import InvalidSample
from ..types import FingerPosition, Modality, Sample, validate_image

#: left-to-right finger order in each slap (as the scanner images a hand palm down)
SLAP_ORDER = {13: (2, 3, 4, 5), 14: (10, 9, 8, 7), 15: (6, 1)}
WORK_PPI = 500  # the working resolution of fingerprints in biocap
TEXTURE_SIGMA = 2.0  # half-resolution px: removes shading, keeps ridges (period ~5 px there)
ENERGY_SIGMA = 2.0  # half-resolution px over which ridge contrast is pooled
TEXTURE_FACTOR = 2.5  # print: ridge contrast this many times the glass's noise ...
TEXTURE_MIN = 3.0  # ... and at least this many grey levels above it ...
OTSU_SHARE = 0.6  # ... and above this share of Otsu's print/background split (paper grain)
COHERENCE_SIGMA = 6.0  # half-resolution px (2.5 ridge periods) over which orientation is pooled
COHERENCE_MIN = 0.5  # weak texture counts where its orientation is this coherent (glass noise ~0.1)
RIDGE_COHERENCE = 0.7  # ... and a weak region is print when its mean coherence reaches this
# (fingertips 0.8-0.9; a scanned card's paper grain 0.3-0.6) ...
MAX_FINGER_AREA_MM2 = 1500.0  # ... and it is no larger than a fingertip and its phalanges
OPEN_PX = 7  # map px (1.4 mm): removes strokes, letters and specks, never a fingertip
BAND_PX = 17  # map px (3.5 mm): taller than a caption's text line, shorter than any fingertip
SCALE = 4  # the map is a quarter of 500 ppi: ridges (10 px) average out, fingers stay 60+ px wide
MIN_TIP_AREA_MM2 = 30.0  # a fingertip prints more (a little finger 50-150 mm2); less is dirt
TIP_WIDTH_MM = 15.0  # a typical fingertip width: the yardstick for splitting and chaining ...
TIP_WIDTH_RANGE_MM = (8.0, 20.0)  # ... measured on each slap within this range
SPLIT_WIDTH = 1.55  # a blob wider than this many fingertip widths holds touching fingers ...
SPLIT_VALLEY = 0.6  # ... when its column count dips below this share of both shoulders
MIN_TEXTURE_SHARE = 0.5  # share of a fingertip blob that is ridge texture before filling
MIN_TIP_SHARE = 0.15  # a fingertip prints at least this share of the largest one's area
TIP_SOLIDITY = 0.8  # a fingertip fills its convex hull (~0.95; handwriting strokes ~0.7): only
# such a blob above makes the blob under it a phalanx
# (a little finger ~0.65 of an index, a small synthetic one 0.2); smaller blobs are specks
MIN_TIP_TALLNESS = 0.55  # a fingertip blob's height at least this share of its width
UNDER_DEPTH = 0.75  # a blob whose top is below this share of another's height ...
UNDER_OVERLAP = 0.35  # ... and whose columns overlap it by this share is a phalanx below it
CHAIN_OFFSET = 0.5  # a blob belongs to a finger when it lies within this share of the
# finger's width from the finger's axis, below the fingertip (an elongated tip's own axis) ...
CHAIN_CONE_DEG = 40  # ... or, under a round tip, on a line within this of upright (fingers and
# thumbs in a slap lean less); a blob in line with several tips joins the one it fits best
CREASE_SEARCH = (0.75, 1.9)  # the distal crease lies this many fingertip widths from the tip
ANGLE_SEARCH_DEG = 25  # a fingertip without phalanx marks: its axis within this of upright
# (fanned fingers and a turned hand rarely lean more; a wider search tilts round tips)
MAX_TIP_ASPECT = 1.65  # a tip blob longer than this times its width has run past the crease
EDGE_SHARE = 0.5  # a fingertip's outline: where its texture energy falls below this share of
# its median (half-maximum-like; the pooled energy runs past the print's edge)
BOX_PERCENTILE = 0.3  # box extents ignore this share of outlying pixels on each side
OWN_PX = 9  # map px: the crop keeps the fingertip blob grown by this (its edge at half texture
# lies ~1-2 map px inside the ridges' end; neighbours are further)
CROP_MARGIN = 8  # px of context around the fingertip in its upright crop
# hand model for naming fingers when some are missing: how far below the highest fingertip
# each finger's top lies, in fingertip widths (middle 0, index/ring ~0.2, little ~0.75)
HAND_DROP = {2: 0.22, 3: 0.0, 4: 0.18, 5: 0.75, 7: 0.22, 8: 0.0, 9: 0.18, 10: 0.75, 1: 0.0, 6: 0.0}
# hand rotation (NFSEG's way): the fingers' axes fan about one hand direction; a fingertip whose
# own angle is weak takes the hand's direction plus its finger's usual lean
HAND_FAN_DEG = {2: 8.0, 3: 1.0, 4: -6.0, 5: -14.0}  # right hand, degrees counter-clockwise from
# the hand's axis (index leans towards the thumb, the little finger away); mirrored for the left
HAND_FIT = True  # fit one hand rotation to a slap's fingers and use it for weak ones
ROUND_ASPECT = 1.5  # a fingertip alone rounder than this (length over width, moments) has a weak own angle
HAND_SPAN_DEG = 6  # a weak fingertip's tightest box is searched within this of the hand's axis
# (the fingers' own lean varies by ~5 degrees about the hand's fan)
CHAINED_WEIGHT = 3.0  # a finger with phalanx marks counts this many times in the hand's fit
HAND_WIDTH_SD = 0.2  # fingertip widths follow HAND_WIDTH only loosely: a print shows part of
# the fingertip (dry edges, pressure), so the width is a weak cue (one standard deviation)
HAND_CENTRE_SD = 0.08  # a slap platen is barely wider than four fingers (~80 mm): the hand's
# centre lies within a few mm of the glass's, this share of its width (one standard deviation)
HAND_WIDTH = {2: 1.0, 3: 1.02, 4: 0.95, 5: 0.8, 7: 1.0, 8: 1.02, 9: 0.95, 10: 0.8, 1: 1.0, 6: 1.0}


@dataclass(frozen=True)
class FingerBox:
    """A fingertip's rotated box in the slap's pixels: centre, width (across the finger),
    height (along it), angle in radians counter-clockwise from up to the finger's axis."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float

    def corners(self) -> np.ndarray:
        c, s = np.cos(self.angle), np.sin(self.angle)
        u = np.array([-1, 1, 1, -1]) * self.width / 2
        v = np.array([-1, -1, 1, 1]) * self.height / 2
        return np.stack([self.cx + c * u + s * v, self.cy - s * u + c * v], 1)

    def bbox(self) -> tuple[int, int, int, int]:
        pts = self.corners()
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def to_json(self) -> dict:
        return {"cx": round(self.cx, 1), "cy": round(self.cy, 1), "width": round(self.width, 1),
                "height": round(self.height, 1), "angle": round(self.angle, 4)}


@dataclass
class SegmentedFinger:
    position: int
    box: FingerBox
    sample: Sample  # the fingertip, upright, other fingers blanked
    area_mm2: float


@dataclass
class SlapSegmentation:
    slap: int
    fingers: list[SegmentedFinger]
    missing: tuple[int, ...]  # expected positions not found
    extra: int = 0  # finger-like blobs beyond the slap's count (ignored)
    notes: list[str] = field(default_factory=list)

    def finger(self, position: int) -> SegmentedFinger | None:
        for f in self.fingers:
            if f.position == position:
                return f
        return None


@dataclass
class _Blob:
    ys: np.ndarray
    xs: np.ndarray

    @property
    def area(self) -> int:
        return len(self.xs)

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.xs.mean()), float(self.ys.mean())

    @property
    def top(self) -> float:
        return float(self.ys.min())


@dataclass
class _Finger:
    tip: _Blob
    below: list[_Blob] = field(default_factory=list)
    angle: float = 0.0
    box: FingerBox | None = None  # on the map
    chained: bool = False  # the axis came from phalanx marks


def segment_slap(sample: Sample, *, slap: int | None = None,
                 expected: tuple[int, ...] | None = None) -> SlapSegmentation:
    """Segment a 4-4-2 slap (`sample.position` 13, 14 or 15 unless `slap` says). `expected`:
    the fingers that should print (declared exceptions left out); when exactly that many are
    found they take those names in the slap's order."""
    if not isinstance(sample, Sample):
        raise InvalidSample(f"segment_slap takes a Sample, got {type(sample).__name__}")
    if sample.modality is not Modality.FINGERPRINT:
        raise InvalidSample(f"a slap is a fingerprint sample, not {sample.modality.value}")
    slap = int(slap if slap is not None else (sample.position or 0))
    if slap not in SLAP_ORDER:
        raise InvalidSample(f"position {slap} is not a slap (13 right four, 14 left four, 15 thumbs)",
                            hint="give the slap position: segment_slap(sample, slap=13)")
    image = validate_image(sample.image)
    to_work = WORK_PPI / float(sample.ppi)
    work = image if abs(to_work - 1) < 1e-3 else cv2.resize(
        image, None, fx=to_work, fy=to_work,
        interpolation=cv2.INTER_AREA if to_work < 1 else cv2.INTER_LINEAR)
    fingers, extra, notes = _find_fingers(work, len(SLAP_ORDER[slap]))
    order = SLAP_ORDER[slap]
    if expected is not None and 0 < len(fingers) == len(set(expected) & set(order)) < len(order):
        keep = [p for p in order if p in set(expected)]
        named, missing = list(zip(keep, fingers)), [p for p in order if p not in keep]
    else:
        named, missing = _name(fingers, slap, work.shape[1] // SCALE)
    if HAND_FIT:
        _hand_fit(named, slap)
    out = []
    px_mm = WORK_PPI / 25.4 / SCALE  # map pixels per mm
    for position, finger in named:
        box_map = finger.box
        box = FingerBox(cx=(box_map.cx + 0.5) * SCALE / to_work - 0.5,
                        cy=(box_map.cy + 0.5) * SCALE / to_work - 0.5,
                        width=box_map.width * SCALE / to_work, height=box_map.height * SCALE / to_work,
                        angle=box_map.angle)
        crop = _upright_crop(work, finger, box_map)
        tip = Sample(image=crop, ppi=float(WORK_PPI), modality=Modality.FINGERPRINT,
                     position=FingerPosition(position), device=sample.device,
                     captured_at=sample.captured_at,
                     metadata={"segmented_from": slap, "box": box.to_json()})
        out.append(SegmentedFinger(position, box, tip, finger.tip.area / px_mm ** 2))
    return SlapSegmentation(slap, out, tuple(missing), extra, notes)


# --- 1-3: foreground, blobs, fingers -----------------------------------------------------------
def _foreground(work: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask, texture mask, texture energy) on the map."""
    """Print = ridge texture: the local contrast of ridges and valleys (at half resolution,
    where a ridge period is still ~5 px) above the glass's own noise and ridge-like (the
    gradients share one orientation: coherence); on the map. A region of weak texture is kept
    whole when it is ridge-like through and through (a faint or dry fingertip on glass);
    otherwise (paper grain of a scanned card, which is weakly textured everywhere) only its
    part above a share of Otsu's print/background split is."""
    half = cv2.resize(work, (work.shape[1] // 2, work.shape[0] // 2),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = half - cv2.GaussianBlur(half, (0, 0), TEXTURE_SIGMA)
    energy = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), ENERGY_SIGMA))
    gx = cv2.Sobel(detail, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(detail, cv2.CV_32F, 0, 1, ksize=3)
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), COHERENCE_SIGMA)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), COHERENCE_SIGMA)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), COHERENCE_SIGMA)
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy ** 2) / (gxx + gyy + 1e-6)
    size = (work.shape[1] // SCALE, work.shape[0] // SCALE)
    energy = cv2.resize(energy, size, interpolation=cv2.INTER_AREA)
    coherence = cv2.resize(coherence, size, interpolation=cv2.INTER_AREA)
    glass = float(np.percentile(energy, 30))  # most of a slap is empty glass
    # print vs glass (or paper) split by Otsu on the energy, never below the glass's noise
    scaled = np.clip(energy * (255.0 / max(float(energy.max()), 1e-6)), 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    otsu = float(otsu) * max(float(energy.max()), 1e-6) / 255.0
    noise = max(TEXTURE_FACTOR * glass, glass + TEXTURE_MIN)
    raw = (energy > max(noise, OTSU_SHARE * otsu)).astype(np.uint8)
    weak = ((energy > noise) & (coherence > COHERENCE_MIN)).astype(np.uint8)
    open_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPEN_PX, OPEN_PX))
    weak = cv2.morphologyEx(weak, cv2.MORPH_OPEN, open_k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    keep = np.zeros(n, bool)
    if n > 1:
        mean_coh = np.bincount(labels.ravel(), coherence.ravel(), n) / np.maximum(stats[:, 4], 1)
        px_mm = WORK_PPI / 25.4 / SCALE
        keep = (mean_coh >= RIDGE_COHERENCE) & (stats[:, 4] <= MAX_FINGER_AREA_MM2 * px_mm ** 2)
        keep[0] = False
    raw = np.where(keep[labels], 1, raw).astype(np.uint8)
    # an opening wider than a pen stroke or a letter (ink cards carry text and handwriting) ...
    mask = cv2.morphologyEx(raw, cv2.MORPH_OPEN, open_k)
    # ... and a vertical one: a line of printed text (a caption band) is far shorter than a
    # fingertip is tall
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((BAND_PX, 1), np.uint8))
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return _fill_holes(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k3)), raw, energy


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """A dry patch or a scar inside a print is still print."""
    inv = np.pad(1 - mask, 1, constant_values=1)
    cv2.floodFill(inv, None, (0, 0), 2)
    mask = mask.copy()
    mask[inv[1:-1, 1:-1] == 1] = 1
    return mask


def _blobs(mask: np.ndarray, min_area: int) -> list[_Blob]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        ys, xs = np.nonzero(labels == i)
        out.append(_Blob(ys, xs))
    return out


def _split_wide(blob: _Blob, tip_w: float, min_area: int) -> list[_Blob]:
    """Touching fingertips: cut a too-wide blob at the deepest valley of its column counts."""
    x0 = int(blob.xs.min())
    width = int(blob.xs.max()) - x0 + 1
    if width <= SPLIT_WIDTH * tip_w:
        return [blob]
    # the upper part of the blob (fingertips) separates best: count its columns there
    top = blob.ys <= blob.top + 1.2 * tip_w
    counts = np.bincount(blob.xs[top] - x0, minlength=width).astype(np.float32)
    counts = np.convolve(counts, np.ones(3) / 3, mode="same")
    lo, hi = int(0.35 * tip_w), width - int(0.35 * tip_w)
    if hi <= lo:
        return [blob]
    cut = lo + int(np.argmin(counts[lo:hi]))
    # a real gap between two fingertips: the valley is deep next to both shoulders
    shoulder = min(counts[:cut].max(), counts[cut:].max())
    if counts[cut] > SPLIT_VALLEY * shoulder:
        return [blob]
    left = blob.xs - x0 < cut
    parts = [_Blob(blob.ys[left], blob.xs[left]), _Blob(blob.ys[~left], blob.xs[~left])]
    if min(p.area for p in parts) < min_area:
        return [blob]
    out = []
    for part in parts:
        out += _split_wide(part, tip_w, min_area)
    return out


def _axis_angle(blob: _Blob) -> float:
    """The blob's long axis as an angle counter-clockwise from up (within +-90 degrees)."""
    x = blob.xs - blob.xs.mean()
    y = blob.ys - blob.ys.mean()
    cov = np.cov(np.stack([x, y]).astype(np.float64))
    evals, evecs = np.linalg.eigh(cov)
    dx, dy = evecs[:, 1]
    if dy > 0:  # point up
        dx, dy = -dx, -dy
    return float(np.arctan2(-dx, -dy))


def _find_fingers(work: np.ndarray, count: int) -> tuple[list[_Finger], int, list[str]]:
    small = cv2.resize(work, (work.shape[1] // SCALE, work.shape[0] // SCALE),
                       interpolation=cv2.INTER_AREA)
    px_mm = WORK_PPI / 25.4 / SCALE
    tip_w = TIP_WIDTH_MM * px_mm
    min_area = int(MIN_TIP_AREA_MM2 * px_mm ** 2)
    mask, raw, energy = _foreground(work)
    found = _edges(_blobs(mask, min_area // 3), energy, min_area // 3)
    tip_w = _tip_width(found, min_area, tip_w, px_mm)
    blobs = []
    for b in found:
        blobs += _split_wide(b, tip_w, min_area)
    notes: list[str] = []
    # chain blobs top-down: a blob below an existing finger, in line with its axis, joins it
    fingers: list[_Finger] = []
    for blob in sorted(blobs, key=lambda b: b.top):
        # the finger it lies most in line with (a neighbour's phalanx can also lie near a
        # round tip's uncertain axis)
        best, best_fit = None, np.inf
        for f in fingers:
            fit = _chain_fit(f.tip, blob, tip_w, min_area)
            if fit < best_fit:
                best, best_fit = f, fit
        if best is not None:
            best.below.append(blob)
        elif blob.area >= min_area:
            fingers.append(_Finger(blob))
    # a fingertip is ridge texture through and through; strokes and letters whose loops were
    # filled are texture only along the strokes
    fingers = [f for f in fingers if raw[f.tip.ys, f.tip.xs].mean() >= MIN_TEXTURE_SHARE]
    # a fingertip is about as tall as wide or taller (tilted up to ~40 degrees); a flat band
    # (a caption line merged with the ink above it) is not one
    fingers = [f for f in fingers if np.ptp(f.tip.ys) + 1 >= MIN_TIP_TALLNESS * (np.ptp(f.tip.xs) + 1)]
    # a blob lying under another finger's tip (phalanx marks of neighbouring fingers run
    # together, or a phalanx out of line) is a lower phalanx, never a fingertip
    solid = [g for g in fingers if _solidity(g.tip) >= TIP_SOLIDITY]
    fingers = [f for f in fingers if not any(_under(f.tip, g.tip) for g in solid if g is not f)]
    for f in fingers:
        _fingertip(f, small, tip_w, energy)
    if fingers:  # fingertips cut at their creases: specks are far smaller
        largest = max(f.tip.area for f in fingers)
        fingers = [f for f in fingers if f.tip.area >= MIN_TIP_SHARE * largest]
    # keep the slap's count of fingers: the largest fingertips
    extra = max(0, len(fingers) - count)
    if extra:
        fingers.sort(key=lambda f: f.tip.area, reverse=True)
        fingers = fingers[:count]
        notes.append(f"{extra} finger-like blob(s) beyond the slap's {count} fingers ignored")
    fingers.sort(key=lambda f: f.box.cx)
    return fingers, extra, notes


def _chain_fit(tip: _Blob, blob: _Blob, tip_w: float, min_area: int) -> float:
    """How far `blob` lies off the finger of `tip` (the angle in radians between the line from
    the blob up to the tip and the finger's expected axis), inf when it cannot belong to it:
    not below the tip, or off its axis by more than the tolerance. The expected axis is the
    tip's long axis when the tip is elongated, else upright (a round tip's own axis says
    little), with a wider tolerance."""
    fx, fy = tip.centre
    cx, cy = blob.centre
    elongated = tip.area >= min_area and _aspect(tip) >= ROUND_ASPECT
    a = _axis_angle(tip) if elongated else 0.0
    c, s = np.cos(a), np.sin(a)
    v = (cx - fx) * s + (cy - fy) * c
    own = (tip.xs - fx) * c - (tip.ys - fy) * s  # the finger's own width
    fw = min(float(own.max() - own.min()), 1.3 * tip_w)
    if v <= 0.4 * fw:
        return np.inf
    line = float(np.arctan2(-(fx - cx), -(fy - cy)))  # blob -> tip, counter-clockwise from up
    if abs(line) > np.deg2rad(CHAIN_CONE_DEG):
        return np.inf
    off = abs(line - a)
    reach = np.arctan2(CHAIN_OFFSET * fw, v) if elongated else np.deg2rad(CHAIN_CONE_DEG)
    return off if off < reach else np.inf


def _edges(blobs: list[_Blob], energy: np.ndarray, min_area: int) -> list[_Blob]:
    """Each blob cut to where its texture reaches a share of its own level: the pooled energy
    of a fingertip and of its phalanx past a narrow crease run together at the noise level,
    not at half the print's."""
    out = []
    for b in blobs:
        e = energy[b.ys, b.xs]
        keep = e >= EDGE_SHARE * float(np.median(e))
        sub = np.zeros((int(b.ys.max()) + 3, int(b.xs.max()) + 3), np.uint8)
        sub[b.ys[keep] + 1, b.xs[keep] + 1] = 1
        sub = cv2.morphologyEx(sub, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        for part in _blobs(_fill_holes(sub), min_area):
            out.append(_Blob(part.ys - 1, part.xs - 1))
    return out


def _solidity(blob: _Blob) -> float:
    """The blob's area over its convex hull's: ~0.95 for a fingertip, far less for strokes."""
    pts = np.stack([blob.xs, blob.ys], 1).astype(np.int32)
    hull = cv2.convexHull(pts)
    return float(blob.area) / max(float(cv2.contourArea(hull)) + 0.5 * cv2.arcLength(hull, True) + 1, 1.0)


def _under(low: _Blob, high: _Blob) -> bool:
    """`low` lies below `high`: its top is past `high`'s lower part and their columns overlap
    by a good share of the narrower one."""
    h0, h1 = float(high.ys.min()), float(high.ys.max())
    if low.top < h0 + UNDER_DEPTH * (h1 - h0):
        return False
    lo = max(float(low.xs.min()), float(high.xs.min()))
    hi = min(float(low.xs.max()), float(high.xs.max()))
    narrow = min(float(np.ptp(low.xs)), float(np.ptp(high.xs))) + 1
    return hi - lo >= UNDER_OVERLAP * narrow


def _tip_width(blobs: list[_Blob], min_area: int, default: float, px_mm: float) -> float:
    """This slap's fingertip width: the median width of the print blobs' upper parts (a blob
    of several touching fingers counts once, so the median holds), within a hand's range."""
    widths = []
    for b in blobs:
        if b.area < min_area:
            continue
        upper = b.ys <= b.top + 0.6 * default
        widths.append(float(np.ptp(b.xs[upper])) + 1)
    if len(widths) < 2:
        return default
    return float(np.clip(np.median(widths), TIP_WIDTH_RANGE_MM[0] * px_mm, TIP_WIDTH_RANGE_MM[1] * px_mm))


def _fingertip(f: _Finger, small: np.ndarray, tip_w: float, energy: np.ndarray) -> None:
    """The finger's axis, the crease cut and the fingertip's rotated box (map pixels)."""
    tip = f.tip
    # the print's edge: where its ridge texture falls below a share of its own level (the
    # pooled energy runs past the outline by the pooling's reach)
    e = energy[tip.ys, tip.xs]
    inside = e >= EDGE_SHARE * float(np.median(e))
    if inside.sum() >= 0.5 * tip.area:
        tip = f.tip = _Blob(tip.ys[inside], tip.xs[inside])
    angle = _axis_angle(tip)
    chained_ok = False
    if f.below:  # the line from the phalanx marks to the tip is the finger's axis
        by = np.concatenate([b.ys for b in f.below])
        bx = np.concatenate([b.xs for b in f.below])
        tx, ty = tip.centre
        dx, dy = tx - bx.mean(), ty - by.mean()
        chained = float(np.arctan2(-dx, -dy))
        if abs(chained - angle) < np.deg2rad(35):
            angle, chained_ok = chained, True
    c, s = np.cos(angle), np.sin(angle)
    cx, cy = tip.centre
    u = (tip.xs - cx) * c - (tip.ys - cy) * s
    v = (tip.xs - cx) * s + (tip.ys - cy) * c
    width = np.percentile(u, 100 - BOX_PERCENTILE) - np.percentile(u, BOX_PERCENTILE)
    v_top = np.percentile(v, BOX_PERCENTILE)
    v_bot = np.percentile(v, 100 - BOX_PERCENTILE)
    if v_bot - v_top > MAX_TIP_ASPECT * width:  # ran on past the crease: cut at the crease
        cut = _crease(small, cx, cy, angle, u, v, v_top, width)
        keep = v < cut
        u, v = u[keep], v[keep]
        f.tip = _Blob(tip.ys[keep], tip.xs[keep])
        v_bot = np.percentile(v, 100 - BOX_PERCENTILE)
    # the fingertip's outline fits its tightest box at the finger's angle: refine around the
    # first estimate (closer when the phalanx marks gave the axis)
    # the phalanx marks give the axis to a degree or two (they lie on it); a fingertip alone
    # fits its tightest box at the finger's angle: fingers in a slap point up, within the search
    if not chained_ok:
        angle = _tightest(f.tip, 0.0, np.deg2rad(ANGLE_SEARCH_DEG))
    f.chained = chained_ok
    _set_box(f, angle)


def _set_box(f: _Finger, angle: float) -> None:
    """The fingertip's box at the finger's angle (map pixels)."""
    c, s = np.cos(angle), np.sin(angle)
    cx, cy = f.tip.centre
    u = (f.tip.xs - cx) * c - (f.tip.ys - cy) * s
    v = (f.tip.xs - cx) * s + (f.tip.ys - cy) * c
    u0, u1 = np.percentile(u, BOX_PERCENTILE), np.percentile(u, 100 - BOX_PERCENTILE) + 1
    v0, v1 = np.percentile(v, BOX_PERCENTILE), np.percentile(v, 100 - BOX_PERCENTILE) + 1
    uc, vc = (u0 + u1) / 2 - 0.5, (v0 + v1) / 2 - 0.5
    f.angle = angle
    f.box = FingerBox(cx=cx + uc * c + vc * s, cy=cy - uc * s + vc * c,
                      width=float(u1 - u0), height=float(v1 - v0), angle=angle)


def _tightest(blob: _Blob, angle: float, span: float) -> float:
    """The angle within +-span of `angle` whose box around the blob has the least area."""
    cands = angle + np.linspace(-span, span, 2 * int(np.rad2deg(span)) + 1)
    step = max(1, blob.area // 3000)  # a subsample is plenty for the extents
    x = (blob.xs[::step] - blob.xs.mean()).astype(np.float32)
    y = (blob.ys[::step] - blob.ys.mean()).astype(np.float32)
    c, s = np.cos(cands)[:, None], np.sin(cands)[:, None]
    u = x * c - y * s
    v = x * s + y * c
    q = (BOX_PERCENTILE, 100 - BOX_PERCENTILE)
    pu = np.percentile(u, q, axis=1)
    pv = np.percentile(v, q, axis=1)
    wu, hv = pu[1] - pu[0], pv[1] - pv[0]
    # a fingertip is longer than wide: a box lying across the finger is penalised
    area = wu * hv * (1.0 + 2.0 * np.maximum(wu / np.maximum(hv, 1e-6) - 1.0, 0.0))
    return float(cands[int(np.argmin(area))])


def _crease(small, cx, cy, angle, u, v, v_top, width) -> float:
    """Along the axis, the lightest band across the finger in the crease's search range."""
    c, s = np.cos(angle), np.sin(angle)
    lo, hi = v_top + CREASE_SEARCH[0] * width, v_top + CREASE_SEARCH[1] * width
    steps = np.arange(lo, hi, 1.0)
    if len(steps) < 3:
        return hi
    across = np.linspace(-0.3 * width, 0.3 * width, 9)
    vv, uu = np.meshgrid(steps, across, indexing="ij")
    xs = cx + uu * c + vv * s
    ys = cy - uu * s + vv * c
    grey = cv2.remap(small.astype(np.float32), xs.astype(np.float32), ys.astype(np.float32),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).mean(1)
    grey = np.convolve(grey, np.ones(3) / 3, mode="same")
    return float(steps[int(np.argmax(grey[1:-1])) + 1])


# --- 4: names ----------------------------------------------------------------------------------
def _name(fingers: list[_Finger], slap: int, map_width: int) -> tuple[list[tuple[int, _Finger]], list[int]]:
    order = SLAP_ORDER[slap]
    k, n = len(fingers), len(order)
    if k == 0:
        return [], list(order)
    if k == n:
        return list(zip(order, fingers)), []
    best, best_cost = None, np.inf
    for chosen in itertools.combinations(range(n), k):
        cost = _hand_cost([order[i] for i in chosen], chosen, fingers, slap, map_width)
        if cost < best_cost:
            best, best_cost = chosen, cost
    named = [(order[i], f) for i, f in zip(best, fingers)]
    missing = [order[i] for i in range(n) if i not in best]
    return named, missing


def _hand_cost(positions, slots, fingers, slap, map_width) -> float:
    widths = np.array([f.box.width for f in fingers])
    unit = float(np.median(widths / np.array([HAND_WIDTH[p] for p in positions])))
    tops = np.array([f.box.cy - f.box.height / 2 for f in fingers])
    drops = np.array([HAND_DROP[p] for p in positions]) * unit
    offset = np.median(tops - drops)
    cost = float(np.sum(((tops - drops - offset) / (0.25 * unit)) ** 2))
    cost += float(np.sum(((widths / unit - [HAND_WIDTH[p] for p in positions]) / HAND_WIDTH_SD) ** 2))
    xs = np.array([f.box.cx for f in fingers])
    if len(fingers) >= 2:
        spacing = np.diff(xs) / np.diff(slots)
        pitch = float(np.median(spacing))
        cost += float(np.sum(((spacing - pitch) / (0.2 * pitch)) ** 2))
        # a gap one finger wide left empty where the slot skips one
        pitch_est = 1.15 * unit
        cost += float(np.sum(((np.diff(xs) - np.diff(slots) * pitch_est) / (0.35 * pitch_est)) ** 2))
        # the hand's centre (its slots' middle, the missing ones included) near the glass's
        n = len(SLAP_ORDER[slap])
        centre = float(np.mean(xs - (np.asarray(slots) - (n - 1) / 2) * pitch))
        cost += ((centre / map_width - 0.5) / HAND_CENTRE_SD) ** 2
    else:
        # one finger: the side of the glass it lies on (the hand is placed about centred)
        n = len(SLAP_ORDER[slap])
        expected = (slots[0] + 0.5) / n
        cost += ((fingers[0].box.cx / map_width - expected) / 0.2) ** 2
    return cost


# --- hand rotation -----------------------------------------------------------------------------
def _fan(position: int, slap: int) -> float | None:
    """The finger's usual lean from the hand's axis (radians), None for thumbs."""
    if slap == 13:
        return float(np.deg2rad(HAND_FAN_DEG[position]))
    if slap == 14:
        return float(-np.deg2rad(HAND_FAN_DEG[position - 5]))
    return None


def _aspect(blob: _Blob) -> float:
    """The blob's length over its width from its second moments (1 for a disc)."""
    cov = np.cov(np.stack([blob.xs, blob.ys]).astype(np.float64))
    ev = np.linalg.eigvalsh(cov)
    return float(np.sqrt(ev[1] / max(ev[0], 1e-6)))


def _hand_fit(named: list[tuple[int, _Finger]], slap: int) -> None:
    """One hand rotation fitted to all the slap's fingers (each finger's angle less its usual
    lean, weighted to the ones with phalanx marks); a round fingertip alone takes its tightest
    box near the hand's axis plus its lean."""
    items = [(p, f, _fan(p, slap)) for p, f in named]
    items = [(p, f, fan) for p, f, fan in items if fan is not None]
    if len(items) < 2:
        return
    resid = np.array([f.angle - fan for _, f, fan in items])
    weights = np.array([CHAINED_WEIGHT if f.chained else 1.0 for _, f, _ in items])
    order = np.argsort(resid)
    cum = np.cumsum(weights[order])
    turn = float(resid[order][np.searchsorted(cum, cum[-1] / 2)])  # weighted median
    for _, f, fan in items:
        if f.chained or _aspect(f.tip) >= ROUND_ASPECT:
            continue
        _set_box(f, _tightest(f.tip, turn + fan, np.deg2rad(HAND_SPAN_DEG)))


# --- the upright fingertip ---------------------------------------------------------------------
def _upright_crop(work: np.ndarray, finger: _Finger, box_map: FingerBox) -> np.ndarray:
    """The fingertip cut out upright at the working resolution; pixels outside the finger's
    own blob (neighbours, its phalanx) are set to the glass level."""
    w = int(round(box_map.width * SCALE)) + 2 * CROP_MARGIN
    h = int(round(box_map.height * SCALE)) + 2 * CROP_MARGIN
    w, h = max(w, 16), max(h, 16)
    c, s = np.cos(box_map.angle), np.sin(box_map.angle)
    cx, cy = (box_map.cx + 0.5) * SCALE - 0.5, (box_map.cy + 0.5) * SCALE - 0.5
    # output (u, v) -> work image: x = cx + c*u' + s*v', y = cy - s*u' + c*v'
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = (cx, cy) - m[:, :2] @ np.array([(w - 1) / 2, (h - 1) / 2])
    glass = int(np.percentile(work[::4, ::4], 95))
    crop = cv2.warpAffine(work, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=glass)
    own = np.zeros((work.shape[0] // SCALE, work.shape[1] // SCALE), np.uint8)
    own[finger.tip.ys, finger.tip.xs] = 255
    own = cv2.dilate(own, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OWN_PX, OWN_PX)))
    own = cv2.resize(own, (work.shape[1], work.shape[0]), interpolation=cv2.INTER_LINEAR)
    own_crop = cv2.warpAffine(own, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.where(own_crop > 127, crop, np.uint8(glass)).astype(np.uint8)

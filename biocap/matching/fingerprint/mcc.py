"""Minutia Cylinder-Code (MCC), bit-based variant, with LSS-R consolidation.

Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code: a new representation and matching technique
for fingerprint recognition", IEEE TPAMI 32(12), 2010. Parameters are the paper's (see
`MccParams`). Everything here is vectorized numpy:

* a cylinder is NS x NS x ND bits packed into 24 uint64 words (angle layer major, so the spatial
  validity mask of 256 bits = 4 words is the same for every layer and is stored once);
* the bit-based similarity needs |a & mask_b|, |b & mask_a| and |a & b| (cells outside a
  cylinder's own valid area are 0, so |(a&mb) xor (b&ma)| = |a&mb| + |b&ma| - 2|a&b|): the first
  two are small matrix products of per-cell bit counts, the last is an AND + popcount;
* LSS-R runs over a batch of comparisons at once (padded arrays), so 1:N needs no Python loop per
  candidate.

Coordinates are in pixels at 500 ppi with y pointing up (the template's y axis points down), so
angles are ordinary counter-clockwise angles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from ...templates.fingerprint.template import FingerprintTemplate
from .pairing import paired_fraction

MATCH_PPI = 500.0
TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class MccParams:
    radius: float = 70.0  # R
    ns: int = 16  # cells along a side of the cylinder base
    nd: int = 6  # angular layers
    sigma_s: float = 28.0 / 3.0
    sigma_d: float = 2.0 * np.pi / 9.0
    mu_psi: float = 0.01  # bit-based: a cell is 1 when its contribution exceeds mu_psi
    omega: float = 50.0  # convex hull enlargement (pixels)
    min_vc: float = 0.75  # a cylinder needs this fraction of its in-circle cells valid
    min_m: int = 2  # ... and this many other minutiae within R + 3 sigma_s
    min_me: float = 0.60  # two cylinders are comparable when this fraction of cells is common
    delta_theta: float = np.pi / 2  # max direction difference of comparable minutiae
    # consolidation (LSS-R)
    min_np: int = 4
    max_np: int = 12
    mu_p: float = 20.0
    tau_p: float = 0.4
    w_r: float = 0.5
    n_rel: int = 5
    mu_p1: float = 5.0
    tau_p1: float = -8.0 / 5.0
    mu_p2: float = np.pi / 12
    tau_p2: float = -30.0
    mu_p3: float = np.pi / 12
    tau_p3: float = -30.0
    max_nr: int = 40  # cap on the relaxed pairs (n_R = min(nA, nB, max_nr)); bounds the cost
    masked_norms: bool = True  # normalize over the common valid cells (paper); False: whole cylinders
    distinct: bool = True  # pick the top pairs greedily one-to-one (no minutia used twice)

    @property
    def n_bits(self) -> int:
        return self.ns * self.ns * self.nd

    @property
    def n_words(self) -> int:
        return (self.n_bits + 63) // 64

    @property
    def n_mask_words(self) -> int:
        return (self.ns * self.ns + 63) // 64


DEFAULT_PARAMS = MccParams()


def _sigmoid(v, mu, tau):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-tau * (v - mu)))


def _angle_diff(a, b):
    """a - b wrapped to [-pi, pi)."""
    d = a - b
    return (d + np.pi) % TWO_PI - np.pi


def _wrap_once(d):
    """d wrapped to [-pi, pi), for d within [-3pi, 3pi) (cheaper than a float modulo)."""
    d = np.where(d >= np.pi, d - TWO_PI, d)
    return np.where(d < -np.pi, d + TWO_PI, d)


def _abs_angle_diff(a, b):
    """|a - b| wrapped to [0, pi], for angles both in [0, 2pi) or both in [-pi, pi)
    (cheaper than a float modulo)."""
    d = np.abs(a - b)
    return np.minimum(d, TWO_PI - d, out=d)


@dataclass
class CylinderSet:
    """The valid cylinders of one template, packed; minutiae in the matching frame."""

    bits: np.ndarray  # (n, n_words) uint64
    mask: np.ndarray  # (n, n_mask_words) uint64, spatial validity
    xyt: np.ndarray  # (n, 3) float32: x, y (y up, 500 ppi), angle (rad, ccw)
    n_minutiae: int  # minutiae in the template (valid cylinders may be fewer)

    def __len__(self) -> int:
        return int(self.bits.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes + self.mask.nbytes + self.xyt.nbytes)


def matching_frame(template: FingerprintTemplate) -> np.ndarray:
    """(n, 3) float64 x, y-up, angle at 500 ppi; non-finite rows dropped. A view written by
    biocap's extractor may mark the subset of its minutiae this matcher uses (the record holds
    the interoperable set): only those are taken (`template.matcher_minutiae`)."""
    m = template.scaled_to(MATCH_PPI, for_matcher=True)
    xyt = np.stack([m["x"].astype(np.float64), -m["y"].astype(np.float64),
                    m["angle"].astype(np.float64)], axis=1)
    xyt = xyt[np.all(np.isfinite(xyt), axis=1)]
    xyt[:, 2] = np.mod(xyt[:, 2], TWO_PI)
    return xyt


def _hull_slack(points: np.ndarray, query: np.ndarray) -> np.ndarray:
    """For each query point: the largest signed distance outside any edge of the points'
    convex hull (<= 0 inside). With the edges offset by omega this is a mitred enlarged hull."""
    import cv2

    if len(points) < 3:
        return np.full(len(query), np.inf)
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return np.full(len(query), np.inf)
    edge = np.roll(hull, -1, axis=0) - hull
    normal = np.stack([edge[:, 1], -edge[:, 0]], axis=1)
    norm = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = normal / np.maximum(norm, 1e-9)
    # orientation: make normals point outwards (the centroid must be on the inside)
    centroid = hull.mean(axis=0)
    if np.mean(np.sum((centroid - hull) * normal, axis=1)) > 0:
        normal = -normal
    offset = np.sum(hull * normal, axis=1)  # (E,)
    return (query @ normal.T - offset[None, :]).max(axis=1)


def build_cylinders(xyt: np.ndarray, params: MccParams = DEFAULT_PARAMS,
                    max_cylinders: int | None = None) -> CylinderSet:
    """Cylinders of minutiae given in the matching frame (see `matching_frame`)."""
    p = params
    n = len(xyt)
    empty = CylinderSet(np.zeros((0, p.n_words), np.uint64), np.zeros((0, p.n_mask_words), np.uint64),
                        np.zeros((0, 3), np.float32), n)
    if n == 0:
        return empty
    xy, theta = xyt[:, :2], xyt[:, 2]
    delta_s = 2.0 * p.radius / p.ns
    idx = np.arange(p.ns) - (p.ns - 1) / 2.0
    gi, gj = np.meshgrid(idx, idx, indexing="ij")  # (ns, ns)
    u = (gi.ravel() * delta_s)[None, :]
    v = (gj.ravel() * delta_s)[None, :]
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    cx = xy[:, 0:1] + u * c - v * s  # (n, cells)
    cy = xy[:, 1:2] + u * s + v * c
    centres = np.stack([cx, cy], axis=-1)  # (n, cells, 2)
    in_circle = (u ** 2 + v ** 2).ravel() <= p.radius ** 2  # (cells,)
    slack = _hull_slack(xy, centres.reshape(-1, 2)).reshape(n, -1)
    valid = in_circle[None, :] & (slack <= p.omega)  # (n, cells)

    # spatial contribution of every minutia t to every cell of every cylinder m: a Gaussian of
    # the distance, cut at 3 sigma_s (squared distances by one matrix product)
    cells = centres.reshape(-1, 2).astype(np.float32)
    pts = xy.astype(np.float32)
    d2 = (np.sum(cells * cells, axis=1)[:, None] + np.sum(pts * pts, axis=1)[None, :]
          - 2.0 * (cells @ pts.T)).reshape(n, -1, n)  # (m, cells, t)
    spatial = np.exp(d2 * np.float32(-1.0 / (2.0 * p.sigma_s ** 2)))
    spatial *= np.float32(1.0 / (np.sqrt(TWO_PI) * p.sigma_s))
    spatial[d2 > (3.0 * p.sigma_s) ** 2] = 0.0
    spatial[np.arange(n), :, np.arange(n)] = 0.0  # a minutia does not contribute to its own
    # directional contribution at each angular layer k: integral of a Gaussian over the layer
    delta_d = TWO_PI / p.nd
    layer_angle = -np.pi + (np.arange(p.nd) + 0.5) * delta_d  # (nd,)
    dtheta = _angle_diff(theta[:, None], theta[None, :])  # (m, t)
    dphi = _angle_diff(layer_angle[None, None, :], dtheta[:, :, None])  # (m, t, nd)
    b = np.sqrt(2.0) * p.sigma_d
    directional = (0.5 * (erf((dphi + delta_d / 2) / b) - erf((dphi - delta_d / 2) / b))).astype(np.float32)
    contrib = np.matmul(spatial, directional).transpose(0, 2, 1)  # (n, nd, cells)
    on = (contrib > p.mu_psi) & valid[:, None, :]

    # validity of whole cylinders
    cells_in_circle = int(in_circle.sum())
    dist_mm = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    neighbours = ((dist_mm <= p.radius + 3 * p.sigma_s).sum(1) - 1)
    keep = (valid.sum(1) >= p.min_vc * cells_in_circle) & (neighbours >= p.min_m)
    order = np.flatnonzero(keep)
    if max_cylinders is not None and len(order) > max_cylinders:
        # keep the most informative cylinders (most bits set)
        order = order[np.argsort(-on[order].reshape(len(order), -1).sum(1), kind="stable")[:max_cylinders]]
        order.sort()
    if len(order) == 0:
        return empty
    bits = _pack(on[order].reshape(len(order), -1), p.n_words)
    mask = _pack(valid[order], p.n_mask_words)
    return CylinderSet(bits, mask, xyt[order].astype(np.float32), n)


def _pack(bool_rows: np.ndarray, n_words: int) -> np.ndarray:
    packed = np.packbits(bool_rows, axis=1, bitorder="little")
    out = np.zeros((packed.shape[0], n_words * 8), np.uint8)
    out[:, :packed.shape[1]] = packed
    return out.view("<u8").astype(np.uint64, copy=False)


@dataclass
class PackedBatch:
    """Cylinder sets padded to a common count, ready for the batched kernels.

    A padded slot has an all-zero mask, so it is never comparable with anything."""

    bits: np.ndarray  # (P, C, n_words) uint64
    mask: np.ndarray  # (P, C, n_mask_words) uint64
    xyt: np.ndarray  # (P, C, 3) float32
    n_cyl: np.ndarray  # (P,) int32 valid cylinders
    n_min: np.ndarray  # (P,) int32 minutiae of the template

    def __len__(self) -> int:
        return int(self.bits.shape[0])

    def take(self, rows) -> "PackedBatch":
        return PackedBatch(self.bits[rows], self.mask[rows], self.xyt[rows], self.n_cyl[rows],
                           self.n_min[rows])


def pack_sets(sets: list[CylinderSet], params: MccParams = DEFAULT_PARAMS,
              capacity: int | None = None) -> PackedBatch:
    cap = max([len(s) for s in sets] + [1]) if capacity is None else capacity
    n = len(sets)
    bits = np.zeros((n, cap, params.n_words), np.uint64)
    mask = np.zeros((n, cap, params.n_mask_words), np.uint64)
    xyt = np.zeros((n, cap, 3), np.float32)
    n_cyl = np.zeros(n, np.int32)
    n_min = np.zeros(n, np.int32)
    for k, s in enumerate(sets):
        c = min(len(s), cap)
        bits[k, :c], mask[k, :c], xyt[k, :c] = s.bits[:c], s.mask[:c], s.xyt[:c]
        n_cyl[k], n_min[k] = c, s.n_minutiae
    return PackedBatch(bits, mask, xyt, n_cyl, n_min)


@dataclass
class Prepared:
    """A PackedBatch with the derived arrays the kernels need (computed once, reused), word-major
    so that the popcount loops run over contiguous rows:

    * bits_t (n_words, P*C): the cylinder bits;
    * mask_t (n_mask_words, P*C): the spatial validity;
    * planes_t (3 * n_mask_words, P*C): per cell, how many of the ND layer bits are set, as three
      bit planes (1s, 2s, 4s): |a & mask_b| = sum_p 2^p |plane_p(a) & mask_b|, 12 words instead
      of 24 and no unpacking."""

    batch: PackedBatch
    bits_t: np.ndarray
    mask_t: np.ndarray
    planes_t: np.ndarray
    geometry: tuple | None = None  # pairwise tables of a probe (`_probe_geometry`), made on first use
    kernel_arrays: tuple | None = None  # the row-major arrays of the compiled kernels (`_kernel_arrays`)
    by_direction: tuple | None = None  # candidate columns sorted by direction (`_by_direction`)
    pairing_points: tuple | None = None  # candidate minutiae for the pairing stage (pairing)

    def __len__(self) -> int:
        return len(self.batch)


def _count_planes(bits: np.ndarray, params: MccParams) -> np.ndarray:
    """(n, 3 * n_mask_words) uint64: the per-cell count of set layer bits as 3 bit planes
    (a bit-sliced adder over the ND layers; layer k is words k*mw .. k*mw+mw-1)."""
    mw = params.n_mask_words
    n = bits.shape[0]
    p0 = np.zeros((n, mw), np.uint64)
    p1 = np.zeros((n, mw), np.uint64)
    p2 = np.zeros((n, mw), np.uint64)
    for k in range(params.nd):
        layer = bits[:, k * mw:(k + 1) * mw]
        carry0 = p0 & layer
        p0 ^= layer
        carry1 = p1 & carry0
        p1 ^= carry0
        p2 |= carry1  # counts stay <= ND <= 7
    return np.concatenate([p0, p1, p2], axis=1)


def prepare(batch: PackedBatch, params: MccParams = DEFAULT_PARAMS) -> Prepared:
    P, C = batch.bits.shape[:2]
    if params.nd > 7 or params.n_bits != params.nd * params.n_mask_words * 64:
        raise ValueError("the packed kernels need ND <= 7 and NS*NS a multiple of 64")
    flat_bits = batch.bits.reshape(P * C, -1)
    return Prepared(batch, np.ascontiguousarray(flat_bits.T),
                    np.ascontiguousarray(batch.mask.reshape(P * C, -1).T),
                    np.ascontiguousarray(_count_planes(flat_bits, params).T))


def prepare_sets(sets: list[CylinderSet], params: MccParams = DEFAULT_PARAMS,
                 capacity: int | None = None) -> Prepared:
    return prepare(pack_sets(sets, params, capacity), params)


def _popcount_dot(a_rows: np.ndarray, b_t: np.ndarray, acc: np.ndarray, tmp: np.ndarray,
                  cnt: np.ndarray, group: int = 3) -> np.ndarray:
    """acc += popcount(a_rows[i] & b_t[:, j]) summed over words, for all i, j.

    Words are summed in uint8 within groups of 3 (at most 192 bits: no overflow whatever the
    data), then added to `acc`: fewer mixed-type additions."""
    if group * 64 > 255:
        raise ValueError("a uint8 group sum must stay below 256")
    n_words = a_rows.shape[1]
    part = np.empty_like(cnt)
    for g0 in range(0, n_words, group):
        for w in range(g0, min(n_words, g0 + group)):
            np.bitwise_and(a_rows[:, w, None], b_t[w][None, :], out=tmp)
            if w == g0:
                np.bitwise_count(tmp, out=part)
            else:
                np.bitwise_count(tmp, out=cnt)
                part += cnt
        acc += part
    return acc


def _block_similarity(a_bits, a_mask, a_planes, a_theta, b_bits_t, b_mask_t, b_planes_t, b_theta,
                      p: MccParams, a_stats=None, b_stats=None) -> np.ndarray:
    """Bit-based similarity of probe rows (contiguous (n, words) arrays) with candidate columns
    (word-major (words, m) arrays): (n, m) float32, 0 where not comparable.

    a_stats / b_stats (`_cylinder_stats`: full-disc mask flags and bit counts per row / column)
    skip work: against a cylinder whose valid area is the whole disc, |a & mask_b| is just |a|
    (a's bits lie in its own valid area), so the count planes are only needed for the pairs
    where the other side's area is cut by the fingerprint's border."""
    mw = p.n_mask_words
    shape = (a_bits.shape[0], b_bits_t.shape[1])
    tmp, cnt = np.empty(shape, np.uint64), np.empty(shape, np.uint8)

    def dot(a_rows, b_t, out_shape=shape):
        if out_shape == shape:
            return _popcount_dot(a_rows, b_t, np.zeros(shape, np.uint16), tmp, cnt)
        return _popcount_dot(a_rows, b_t, np.zeros(out_shape, np.uint16), np.empty(out_shape, np.uint64),
                             np.empty(out_shape, np.uint8))

    ab = dot(a_bits, b_bits_t).astype(np.float32)  # |a & b|
    common = dot(a_mask, b_mask_t)  # common valid cells
    if p.masked_norms and a_stats is not None and b_stats is not None:
        a_full, a_cnt = a_stats
        b_full, b_cnt = b_stats
        a_mb = np.empty(shape, np.float32)
        a_mb[:] = a_cnt[:, None]
        b_ma = np.empty(shape, np.float32)
        b_ma[:] = b_cnt[None, :]
        pc = np.flatnonzero(~b_full)  # columns whose valid area is cut: |a & mask_b| from planes
        if len(pc):
            sub_mask = np.ascontiguousarray(b_mask_t[:, pc])
            acc = np.zeros((shape[0], len(pc)), np.uint16)
            for plane in range(3):
                part = dot(np.ascontiguousarray(a_planes[:, plane * mw:(plane + 1) * mw]), sub_mask,
                           out_shape=acc.shape)
                acc += np.left_shift(part, plane, out=part)
            a_mb[:, pc] = acc
        pr = np.flatnonzero(~a_full)  # rows whose valid area is cut: |b & mask_a| from planes
        if len(pr):
            sub_rows = np.ascontiguousarray(a_mask[pr])
            acc = np.zeros((len(pr), shape[1]), np.uint16)
            for plane in range(3):
                part = dot(sub_rows, b_planes_t[plane * mw:(plane + 1) * mw], out_shape=acc.shape)
                acc += np.left_shift(part, plane, out=part)
            b_ma[pr, :] = acc
    elif p.masked_norms:
        # |a & mask_b| and |b & mask_a| from the count planes, in integers (<= 6 * 256)
        a_mb = np.zeros(shape, np.uint16)
        b_ma = np.zeros(shape, np.uint16)
        for plane in range(3):
            rows = slice(plane * mw, (plane + 1) * mw)
            a_part = dot(np.ascontiguousarray(a_planes[:, rows]), b_mask_t)
            b_part = dot(a_mask, b_planes_t[rows])
            if plane:
                np.left_shift(a_part, plane, out=a_part)
                np.left_shift(b_part, plane, out=b_part)
            a_mb += a_part
            b_ma += b_part
        a_mb = a_mb.astype(np.float32)
        b_ma = b_ma.astype(np.float32)
    else:  # whole-cylinder norms (faster, slightly less accurate)
        a_mb = np.broadcast_to(np.bitwise_count(a_bits).sum(1).astype(np.float32)[:, None], shape).copy()
        b_ma = np.broadcast_to(np.bitwise_count(b_bits_t).sum(0).astype(np.float32)[None, :], shape).copy()
    xor = a_mb + b_ma
    xor -= 2.0 * ab
    np.maximum(xor, 0.0, out=xor)
    np.sqrt(xor, out=xor)
    denom = np.sqrt(a_mb)
    denom += np.sqrt(b_ma)
    ok = denom > 1e-5
    np.maximum(denom, 1e-6, out=denom)
    lam = 1.0 - xor / denom
    dth = _abs_angle_diff(a_theta[:, None], b_theta[None, :])
    ok &= (common >= p.min_me * float(np.sum(_in_circle(p)))) & (dth <= p.delta_theta)
    lam *= ok
    return lam


def _cylinder_stats(mask_t: np.ndarray, bits_t: np.ndarray,
                    params: MccParams) -> tuple[np.ndarray, np.ndarray]:
    """Per column of word-major arrays: (valid area is the whole disc, number of bits set)."""
    disc = _pack(_in_circle(params).reshape(1, -1), params.n_mask_words)[0]
    full = np.all(mask_t == disc[:, None], axis=0)
    return full, np.bitwise_count(bits_t).sum(0, dtype=np.int64).astype(np.float32)


#: below this many candidate cylinders one block is cheaper than angle bins (call overhead)
_BINNING_MIN_COLUMNS = 1500
_ANGLE_BINS = 6


def _by_direction(cand: Prepared, cols: np.ndarray, params: MccParams) -> tuple:
    """The candidates' real cylinder columns sorted by direction and repeated once shifted by
    2 pi, so that any window of directions (wrapping around) is one contiguous slice: (columns,
    directions, bits, mask, planes, full-disc flags, bit counts). Kept on `cand`, so a set
    prepared once and matched against many probes sorts once."""
    if cand.by_direction is None:
        b_theta = cand.batch.xyt[..., 2].reshape(-1)
        theta = np.mod(b_theta[cols], TWO_PI)
        order = cols[np.argsort(theta, kind="stable")]
        st = np.mod(b_theta[order], TWO_PI)
        bits, mask, planes = (np.take(x, order, axis=1) for x in (cand.bits_t, cand.mask_t, cand.planes_t))
        full, count = _cylinder_stats(mask, bits, params)
        cand.by_direction = (np.concatenate([order, order]), np.concatenate([st, st + TWO_PI]),
                             *(np.concatenate([g, g], axis=1) for g in (bits, mask, planes)),
                             np.concatenate([full, full]), np.concatenate([count, count]))
    return cand.by_direction


def local_similarities(probe: Prepared, cand: Prepared, params: MccParams = DEFAULT_PARAMS) -> np.ndarray:
    """Bit-based MCC similarity of every probe cylinder (probe = a Prepared of one set) with
    every candidate cylinder: (P, na, C) float32, 0 where the two are not comparable.

    Only pairs whose directions can be within delta_theta are computed: the candidates' valid
    cylinders are sorted by direction, the probe's are grouped in angle bins, and each bin is
    compared with the window of directions it can match (about half of the columns for
    delta_theta = pi/3), one block per bin."""
    p = params
    P, C = cand.batch.bits.shape[:2]
    na = int(probe.batch.n_cyl[0])
    out = np.zeros((na, P * C), np.float32)
    if na == 0 or P == 0:
        return out.reshape(na, P, C).transpose(1, 0, 2)
    a_bits = np.ascontiguousarray(probe.bits_t[:, :na].T)
    a_mask = np.ascontiguousarray(probe.mask_t[:, :na].T)
    a_planes = np.ascontiguousarray(probe.planes_t[:, :na].T)
    a_theta = probe.batch.xyt[0, :na, 2]
    b_theta_all = cand.batch.xyt[..., 2].reshape(P * C)
    cols = np.flatnonzero((np.arange(C)[None, :] < cand.batch.n_cyl[:, None]).ravel())  # real cylinders
    if len(cols) == 0:
        return out.reshape(na, P, C).transpose(1, 0, 2)
    a_full, a_count = _cylinder_stats(probe.mask_t[:, :na], probe.bits_t[:, :na], p)
    if len(cols) < _BINNING_MIN_COLUMNS or p.delta_theta >= np.pi / 2:
        b_mask, b_bits = cand.mask_t[:, cols], cand.bits_t[:, cols]
        out[:, cols] = _block_similarity(a_bits, a_mask, a_planes, a_theta, b_bits, b_mask,
                                         cand.planes_t[:, cols], b_theta_all[cols], p,
                                         (a_full, a_count), _cylinder_stats(b_mask, b_bits, p))
        return out.reshape(na, P, C).transpose(1, 0, 2)
    order2, st2, bits2, mask2, planes2, full2, count2 = _by_direction(cand, cols, p)
    width = TWO_PI / _ANGLE_BINS
    a_mod = np.mod(a_theta, TWO_PI)
    a_bin = np.minimum((a_mod / width).astype(np.int64), _ANGLE_BINS - 1)
    n = len(order2) // 2
    for b in range(_ANGLE_BINS):
        rows = np.flatnonzero(a_bin == b)
        if len(rows) == 0:
            continue
        lo = b * width - p.delta_theta - 1e-6
        hi = (b + 1) * width + p.delta_theta + 1e-6
        if lo < 0:
            lo, hi = lo + TWO_PI, hi + TWO_PI
        s = int(np.searchsorted(st2, lo, side="left"))
        e = int(np.searchsorted(st2, hi, side="right"))
        e = min(e, s + n)  # never the same column twice
        if e <= s:
            continue
        block = _block_similarity(a_bits[rows], a_mask[rows], a_planes[rows], a_theta[rows],
                                  bits2[:, s:e], mask2[:, s:e], planes2[:, s:e], b_theta_all[order2[s:e]], p,
                                  (a_full[rows], a_count[rows]), (full2[s:e], count2[s:e]))
        cols_b = order2[s:e]
        for k, r in enumerate(rows):  # row by row: ~2x faster than one np.ix_ scatter
            out[r, cols_b] = block[k]
    return out.reshape(na, P, C).transpose(1, 0, 2)


def _kernel_arrays(prep: Prepared, params: MccParams) -> tuple:
    """(bits, mask, theta, full-disc flags, bit counts), each (P, C, ...) row-major, for the
    compiled kernels; kept on `prep`, so a set prepared once is laid out once."""
    if prep.kernel_arrays is None:
        P, C = prep.batch.bits.shape[:2]
        full, count = _cylinder_stats(prep.mask_t, prep.bits_t, params)
        prep.kernel_arrays = (np.ascontiguousarray(prep.batch.bits), np.ascontiguousarray(prep.batch.mask),
                              np.ascontiguousarray(prep.batch.xyt[..., 2]), full.reshape(P, C),
                              count.reshape(P, C), np.ascontiguousarray(prep.batch.n_cyl, dtype=np.int64))
    return prep.kernel_arrays


def local_similarities_compiled(probe: Prepared, cand: Prepared, params: MccParams = DEFAULT_PARAMS) -> np.ndarray:
    """`local_similarities` by the compiled kernel (the same values, bit for bit): (P, na, C)
    float32, contiguous."""
    from . import kernels

    P, C = cand.batch.bits.shape[:2]
    na = int(probe.batch.n_cyl[0])
    out = np.zeros((P, na, C), np.float32)
    if na == 0 or P == 0:
        return out
    a_bits, a_mask, a_theta, a_full, a_cnt, _ = _kernel_arrays(probe, params)
    b_bits, b_mask, b_theta, b_full, b_cnt, n_cyl = _kernel_arrays(cand, params)
    min_common = params.min_me * float(np.sum(_in_circle(params)))
    kernels.local_similarities(a_bits[0, :na], a_mask[0, :na], a_theta[0, :na], a_full[0, :na],
                               a_cnt[0, :na], b_bits, b_mask, b_theta, b_full, b_cnt, n_cyl,
                               min_common, np.float32(params.delta_theta), out)
    return out


def _in_circle(p: MccParams) -> np.ndarray:
    delta_s = 2.0 * p.radius / p.ns
    idx = (np.arange(p.ns) - (p.ns - 1) / 2.0) * delta_s
    return (idx[:, None] ** 2 + idx[None, :] ** 2) <= p.radius ** 2


def n_pairs_for(n_min: np.ndarray, p: MccParams) -> np.ndarray:
    """n_P of the paper: how many top pairs make the global score (grows with minutiae)."""
    return (p.min_np + np.round(_sigmoid(np.asarray(n_min, np.float64), p.mu_p, p.tau_p)
                                * (p.max_np - p.min_np))).astype(np.int32)


def _probe_geometry(probe: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probe's pairwise tables for LSS-R, flattened (na*na,), computed once per Prepared:
    distance between minutiae t and k, direction difference theta_t - theta_k, and the angle of
    the segment t->k in t's frame (theta_t - atan2), both wrapped to [-pi, pi)."""
    if probe.geometry is None:
        na = int(probe.batch.n_cyl[0])
        a = probe.batch.xyt[0, :na]
        dx = a[None, :, 0] - a[:, None, 0]
        dy = a[None, :, 1] - a[:, None, 1]
        probe.geometry = (np.hypot(dx, dy).ravel(), _angle_diff(a[:, None, 2], a[None, :, 2]).ravel(),
                          _angle_diff(a[:, None, 2], np.arctan2(dy, dx)).ravel())
    return probe.geometry


def lss_r(lam: np.ndarray, probe: Prepared, cand: Prepared, params: MccParams = DEFAULT_PARAMS,
          details: dict | None = None, compiled: bool = False) -> np.ndarray:
    """Local Similarity Sort with Relaxation over a batch: (P,) scores in [0, 1]."""
    p = params
    P, na, C = lam.shape
    if P == 0:
        return np.zeros(0, np.float32)
    if na == 0:
        return np.zeros(P, np.float32)
    n_r = np.minimum(np.minimum(na, cand.batch.n_cyl), p.max_nr).astype(np.int32)  # (P,)
    K = int(max(1, min(n_r.max(), na * C)))
    flat = lam.reshape(P, na * C)
    if p.distinct and compiled:
        return _lss_r_compiled(lam, probe, cand, p, n_r, K, details)
    if p.distinct:
        top, lam0 = _greedy_distinct(lam, K)
    elif K < na * C:
        top = np.argpartition(-flat, K - 1, axis=1)[:, :K]
    else:
        top = np.broadcast_to(np.arange(na * C), (P, na * C)).copy()
    if not p.distinct:
        vals = np.take_along_axis(flat, top, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        lam0 = np.take_along_axis(vals, order, axis=1)  # (P, K) descending
    live = (np.arange(K)[None, :] < n_r[:, None]) & (lam0 > 0)
    lam0 = np.where(live, lam0, 0.0).astype(np.float32)
    ia, jb = top // C, top % C
    # pairwise geometry of the selected minutiae: the probe's side from its tables (computed once
    # per probe), the candidates' from their coordinates; distances for all pairs of pairs, the
    # angle terms only where the distance term is not already negligible
    dist_a, dir_a, rad_a_tab = _probe_geometry(probe)
    ia32 = ia.astype(np.int32)
    idx_a = (ia32[:, :, None] * np.int32(na) + ia32[:, None, :]).ravel()  # (P*K*K,) into the (na, na) tables
    b = np.take_along_axis(cand.batch.xyt, jb[:, :, None], axis=1)  # (P, K, 3)
    dxb = (b[:, None, :, 0] - b[:, :, None, 0]).ravel()
    dyb = (b[:, None, :, 1] - b[:, :, None, 1]).ravel()
    d1 = dxb * dxb
    d1 += dyb * dyb
    np.sqrt(d1, out=d1)
    d1 -= dist_a[idx_a]
    np.abs(d1, out=d1)
    d1_cut = p.mu_p1 + np.log(1e6) / abs(p.tau_p1) if p.tau_p1 < 0 else np.inf
    live2 = (live[:, :, None] & live[:, None, :]).ravel()
    sel = np.flatnonzero((d1 < d1_cut) & live2)
    theta_b = b[..., 2].ravel()  # (P*K,)
    tb = theta_b[sel // K]  # pair t of comparison p: p*K + t
    kb = theta_b[(sel // (K * K)) * K + sel % K]
    idx_sel = idx_a[sel]
    d2 = _abs_angle_diff(dir_a[idx_sel], _wrap_once(tb - kb))
    d3 = _abs_angle_diff(rad_a_tab[idx_sel], _wrap_once(tb - np.arctan2(dyb[sel], dxb[sel])))
    r = _sigmoid(d1[sel], p.mu_p1, p.tau_p1)
    r *= _sigmoid(d2, p.mu_p2, p.tau_p2)
    r *= _sigmoid(d3, p.mu_p3, p.tau_p3)
    rho = np.zeros(P * K * K, np.float32)
    rho[sel] = r
    rho = rho.reshape(P, K, K)
    rho[:, np.arange(K), np.arange(K)] = 0.0
    rho *= ((1.0 - p.w_r) / np.maximum(n_r - 1, 1).astype(np.float32))[:, None, None]
    lam_i = lam0
    for _ in range(p.n_rel):
        lam_i = p.w_r * lam_i + np.matmul(rho, lam_i[:, :, None])[:, :, 0]
    eff = np.where(live, lam_i / np.where(lam0 > 0, lam0, 1.0), -1.0)
    n_p = np.minimum(n_pairs_for(np.minimum(probe.batch.n_min[0], cand.batch.n_min), p), live.sum(1))
    best = np.argsort(-eff, axis=1, kind="stable")
    lam_sorted = np.take_along_axis(lam_i, best, axis=1)
    take = np.arange(K)[None, :] < n_p[:, None]
    total = np.where(take, lam_sorted, 0.0).sum(1)
    score = np.where(n_p > 0, total / np.maximum(n_p, 1), 0.0)
    if details is not None:  # the selected pairs, most efficient first (second-stage consolidation)
        h = min(K, int(details.get("n_pairs", K)))
        details.update(ia=np.take_along_axis(ia, best[:, :h], axis=1),
                       jb=np.take_along_axis(jb, best[:, :h], axis=1),
                       w=np.where(take[:, :h], lam_sorted[:, :h], 0.0), n_p=n_p)
    return score.astype(np.float32)


def _lss_r_compiled(lam: np.ndarray, probe: Prepared, cand: Prepared, p: MccParams, n_r: np.ndarray, K: int,
                    details: dict | None) -> np.ndarray:
    """`lss_r` (with distinct pairs) by the compiled kernels: the same pairs, scores equal to
    float32 rounding."""
    from . import kernels

    P, na, C = lam.shape
    top, lam0 = np.zeros((P, K), np.int64), np.zeros((P, K), np.float32)
    kernels.greedy_distinct(np.ascontiguousarray(lam), K, P > 1, top, lam0)
    dist_a, dir_a, rad_a = _probe_geometry(probe)
    n_p_max = n_pairs_for(np.minimum(probe.batch.n_min[0], cand.batch.n_min), p).astype(np.int64)
    h = min(K, int(details.get("n_pairs", K))) if details is not None else 1
    d1_cut = p.mu_p1 + np.log(1e6) / abs(p.tau_p1) if p.tau_p1 < 0 else np.inf
    f32 = np.float32
    ia_all, jb_all = np.empty((P, K), np.int64), np.empty((P, K), np.int64)
    live, lam_live = np.empty((P, K), bool), np.empty((P, K), np.float32)
    n = P * K * K
    sel, idx_sel = np.empty(n, np.int64), np.empty(n, np.int64)
    d1, d2, dxb, dyb, tb = (np.empty(n, np.float32) for _ in range(5))
    m = kernels.lss_r_pairs(top, lam0, n_r.astype(np.int64), C, dist_a, dir_a, na,
                            np.ascontiguousarray(cand.batch.xyt), f32(d1_cut), ia_all, jb_all, live, lam_live,
                            sel, d1, d2, dxb, dyb, tb, idx_sel)
    # the angle of the segment and the sigmoids by numpy, as `lss_r` computes them
    d3 = _abs_angle_diff(rad_a[idx_sel[:m]], _wrap_once(tb[:m] - np.arctan2(dyb[:m], dxb[:m])))
    r = _sigmoid(d1[:m], p.mu_p1, p.tau_p1)
    r *= _sigmoid(d2[:m], p.mu_p2, p.tau_p2)
    r *= _sigmoid(d3, p.mu_p3, p.tau_p3)
    score = np.zeros(P, np.float32)
    ia, jb = np.zeros((P, h), np.int64), np.zeros((P, h), np.int64)
    w, n_p = np.zeros((P, h), np.float32), np.zeros(P, np.int64)
    kernels.lss_r_relax(sel[:m], r, live, lam_live, n_r.astype(np.int64), f32(p.w_r), p.n_rel, n_p_max, h,
                        score, ia_all, jb_all, ia, jb, w, n_p)
    if details is not None:
        details.update(ia=ia, jb=jb, w=w, n_p=n_p)
    return score


def _greedy_distinct(lam: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best pairs of each comparison, greedily, each minutia of either side used once:
    (P, k) flat indices and similarities, descending. One vectorized step per pair taken.

    The search runs on similarities quantized to int16 (steps of 1/32000: half the memory
    traffic of float32 per step, ~25% faster); the returned similarities are the exact ones."""
    P, na, C = lam.shape
    if P == 1:  # one comparison (a 1:1 call): a plain scan of the sorted pairs is cheaper
        return _greedy_distinct_one(lam[0], k)
    work = np.ascontiguousarray(np.rint(lam * np.float32(32000.0)).astype(np.int16))  # lam is in [0, 1]
    flat = work.reshape(P, -1)  # a view: removals in `work` show here
    top = np.zeros((P, k), np.int64)
    taken = np.zeros((P, k), bool)
    rows = np.arange(P)
    for t in range(k):
        f = flat.argmax(1)
        top[:, t] = f
        taken[:, t] = flat[rows, f] > 0  # a removed (-1) or zero entry: nothing left to take
        i, j = f // C, f % C
        work[rows, i, :] = -1
        work[rows, :, j] = -1
    vals = np.where(taken, np.take_along_axis(lam.reshape(P, -1), top, axis=1), 0.0)
    return top, vals.astype(np.float32)


def _greedy_distinct_one(lam: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`_greedy_distinct` of a single (na, C) comparison: scan the pairs best first."""
    na, C = lam.shape
    flat = lam.ravel()
    n_pos = int(np.count_nonzero(flat > 0))
    order = np.argsort(-flat, kind="stable")[:n_pos]
    top = np.zeros((1, k), np.int64)
    vals = np.zeros((1, k), np.float32)
    used_a, used_b, t = set(), set(), 0
    for f in order.tolist():
        i, j = divmod(f, C)
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        top[0, t], vals[0, t] = f, flat[f]
        t += 1
        if t == k:
            break
    return top, vals


def compare_prepared(probe: Prepared, cand: Prepared, params: MccParams = DEFAULT_PARAMS,
                     chunk: int = 128, pairing=None, compiled: bool = True) -> np.ndarray:
    """Scores of one probe (a Prepared of one set) against every set of `cand`, in
    bounded-memory chunks. With `pairing` (a `pairing.PairingParams`) the LSS-R
    score is multiplied by the second-stage paired fraction. `compiled`: the local similarities
    and the pair selection by the numba kernels (`kernels`), else by the numpy reference code
    (the same scores)."""
    out = np.zeros(len(cand), np.float32)
    if len(cand) <= chunk:  # no slicing: what `cand` keeps between calls stays usable
        out[:] = _score_chunk(probe, cand, params, pairing, compiled)
        return out
    for s in range(0, len(cand), chunk):
        out[s:s + chunk] = _score_chunk(probe, _slice(cand, slice(s, s + chunk)), params, pairing, compiled)
    return out


def _score_chunk(probe: Prepared, cand: Prepared, params: MccParams, pairing, compiled: bool = True) -> np.ndarray:
    if compiled:
        lam = local_similarities_compiled(probe, cand, params)
    else:
        lam = local_similarities(probe, cand, params)
    if pairing is None:
        return lss_r(lam, probe, cand, params, compiled=compiled)
    details = {"n_pairs": pairing.n_anchor}
    score = lss_r(lam, probe, cand, params, details, compiled=compiled)
    if "ia" not in details:  # nothing to compare (empty probe or batch)
        return score
    return score * paired_fraction(probe, cand, details["ia"], details["jb"], details["w"], pairing, compiled)


def _slice(prep: Prepared, rows: slice) -> Prepared:
    P, C = prep.batch.bits.shape[:2]
    lo, hi, _ = rows.indices(P)
    cols = slice(lo * C, hi * C)
    return Prepared(prep.batch.take(rows), prep.bits_t[:, cols], prep.mask_t[:, cols],
                    prep.planes_t[:, cols])

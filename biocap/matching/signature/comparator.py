"""Signature verification against a person's enrolled reference set.

    refs = SignatureReferences.enroll([template_of(pen) for pen in enrolment_pens])   # 1-10
    score = SignatureComparator().compare(template_of(questioned_pen), refs)         # (0, 1)

Score (a distance, 0 = as far from the references as they are from each other):

    s = sum over column groups g of                              (params.LOCAL_GROUPS)
          (min_i d_g(q, r_i) - mean_i min_j d_g(r_i, r_j))       elastic, nearest reference
        + (mean_i d_g(q, r_i) - mean_{i<j} d_g(r_i, r_j))        elastic, whole set
      + GLOBAL_WEIGHT * (g(q) - mean_i g_loo(r_i))               global features

d_g is the length-normalised DTW cost of group g's z-normalised local feature columns (dtw.py),
each group warped on its own; g is the mean capped z-distance of the global features from the
references' mean in units of their (floored) spread, g_loo the same for each reference against
the others. Each term is normalised by the person's own references (user-specific), so one
threshold serves everyone.

Similarity = 1 / (1 + exp(s / SIMILARITY_SCALE)) in (0, 1): higher = more alike; 0.5 means the
questioned signature is exactly as far from the references as they are from one another.
A single reference has no spread of its own: the population values of the shipped calibration
stand in for it.
"""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from ...errors import InvalidRequest, NoProvider, TemplateFormatError
from ...templates.signature import params as P
from ...templates.signature.features import LOCAL_NAMES
from ...templates.signature.template import SignatureTemplate
from ...types import Modality
from .dtw import band, group_costs, stack_references

_REF_MAGIC = b"BSGR"
_REF_VERSION = 1
#: column indices of each local feature group, in params.LOCAL_GROUPS order
GROUP_COLUMNS = {g: tuple(LOCAL_NAMES.index(c) for c in cols) for g, cols in P.LOCAL_GROUPS.items()}
GROUPS = tuple(GROUP_COLUMNS)


#: the kernel's column layout: every group's columns side by side (a column used by two groups
#: appears twice), group g at columns GROUP_BOUNDS[g][0]:GROUP_BOUNDS[g][1]
_LAYOUT = [c for g in GROUPS for c in GROUP_COLUMNS[g]]
_EDGES = np.cumsum([0, *(len(GROUP_COLUMNS[g]) for g in GROUPS)])
GROUP_BOUNDS = {g: (int(_EDGES[i]), int(_EDGES[i + 1])) for i, g in enumerate(GROUPS)}


def _laid_out(t: SignatureTemplate) -> np.ndarray:
    return np.ascontiguousarray(t.local[:, _LAYOUT])


def _stacks(series: list[np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """References in the kernel's layout, one stack per distinct length: (indices, stack)."""
    lengths = [len(s) for s in series]
    out = []
    for m in dict.fromkeys(lengths):
        idx = np.array([i for i, n in enumerate(lengths) if n == m], np.int64)
        out.append((idx, stack_references([series[i] for i in idx])))
    return tuple(out)


def _costs(q: np.ndarray, stacks, k: int, bounds: np.ndarray) -> np.ndarray:
    """(groups, k) DTW costs of the laid-out query against the stacked references."""
    if len(stacks) == 1:
        return group_costs(q, stacks[0][1], k, bounds)
    w = max(band(len(q), st.shape[1] // len(idx)) for idx, st in stacks)  # one band, the widest
    out = np.empty((len(bounds), k))
    for idx, st in stacks:
        out[:, idx] = group_costs(q, st, len(idx), bounds, w)
    return out


_ALL_BOUNDS = np.array([GROUP_BOUNDS[g] for g in GROUPS], np.int64)


def _loo_global(G: np.ndarray) -> float:
    k = len(G)
    if k < 3:
        return float("nan")
    vals = []
    for i in range(k):
        o = np.delete(G, i, 0)
        sd = np.maximum(o.std(0, ddof=1), P.GLOBAL_SIGMA_FLOOR)
        vals.append(np.minimum(np.abs(G[i] - o.mean(0)) / sd, P.GLOBAL_Z_CAP).mean())
    return float(np.mean(vals))


@dataclass(frozen=True)
class SignatureReferences:
    """A person's enrolled signatures and the spread statistics verification normalises by."""

    templates: tuple[SignatureTemplate, ...]
    ref_min_mean: dict[str, float]  # per group: mean over references of the cost to the nearest other
    pair_mean: dict[str, float]     # per group: mean cost over all reference pairs
    g_mean: np.ndarray    # global features: mean, floored spread, leave-one-out distance
    g_sd: np.ndarray
    g_loo: float
    modality: Modality = Modality.SIGNATURE
    #: the references stacked in the DTW kernel's layout, once per set (derived, not stored)
    stacks: tuple = field(default=(), compare=False, repr=False)

    @classmethod
    def enroll(cls, templates) -> "SignatureReferences":
        templates = tuple(templates)
        if not P.MIN_REFERENCES <= len(templates) <= P.MAX_REFERENCES:
            raise InvalidRequest(f"a reference set holds {P.MIN_REFERENCES}-{P.MAX_REFERENCES} "
                                 f"signatures, got {len(templates)}",
                                 hint="enrol 3-5 signatures of the person")
        if not all(isinstance(t, SignatureTemplate) for t in templates):
            raise InvalidRequest("references must be SignatureTemplate objects (template_of(pen))")
        k = len(templates)
        G = np.stack([t.global_ for t in templates])
        laid = [_laid_out(t) for t in templates]
        stacks = _stacks(laid)
        if k == 1:
            nan = {g: float("nan") for g in GROUPS}
            return cls(templates, nan, dict(nan), G[0], np.full(G.shape[1], np.nan),
                       float("nan"), stacks=stacks)
        D = np.zeros((len(GROUPS), k, k))
        for i in range(k):  # each reference queried against the others, as a signature would be
            others = [j for j in range(k) if j != i]
            D[:, i, others] = _costs(laid[i], _stacks([laid[j] for j in others]), k - 1, _ALL_BOUNDS)
        ref_min, pair = {}, {}
        for gi, g in enumerate(GROUPS):
            Dg = (D[gi] + D[gi].T) / 2
            off = Dg[~np.eye(k, dtype=bool)].reshape(k, k - 1)
            ref_min[g], pair[g] = float(off.min(1).mean()), float(off.mean())
        sd = np.maximum(G.std(0, ddof=1), P.GLOBAL_SIGMA_FLOOR)
        return cls(templates, ref_min, pair, G.mean(0), sd, _loo_global(G), stacks=stacks)

    def __len__(self) -> int:
        return len(self.templates)

    def to_bytes(self) -> bytes:
        parts = [struct.pack("<4sHH", _REF_MAGIC, _REF_VERSION, len(self.templates))]
        for t in self.templates:
            b = t.to_bytes()
            parts.append(struct.pack("<I", len(b)) + b)
        body = b"".join(parts)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "SignatureReferences":
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TemplateFormatError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < 12 or data[:4] != _REF_MAGIC:
            raise TemplateFormatError("not a biocap signature reference set", field="magic", offset=0)
        if zlib.crc32(data[:-4]) != struct.unpack_from("<I", data, len(data) - 4)[0]:
            raise TemplateFormatError("signature reference set checksum does not match: damaged",
                                      field="crc32", offset=len(data) - 4)
        _, version, k = struct.unpack_from("<4sHH", data, 0)
        if version != _REF_VERSION:
            raise TemplateFormatError(f"reference set version {version} is not supported",
                                      field="version", offset=4)
        off, end, templates = 8, len(data) - 4, []
        for i in range(k):
            if off + 4 > end:
                raise TemplateFormatError("reference set is truncated", field=f"template[{i}]",
                                          offset=off)
            (n,) = struct.unpack_from("<I", data, off)
            if off + 4 + n > end:
                raise TemplateFormatError("reference set is truncated", field=f"template[{i}]",
                                          offset=off)
            templates.append(SignatureTemplate.from_bytes(data[off + 4:off + 4 + n]))
            off += 4 + n
        if off != end:
            raise TemplateFormatError("reference set has trailing bytes", field="length", offset=off)
        try:
            return cls.enroll(templates)
        except InvalidRequest as exc:
            raise TemplateFormatError(str(exc), field="count", offset=6) from exc


def _calibration() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("calibration.json").read_text()
    return json.loads(text)


class SignatureComparator:
    """Verification of a questioned signature against a reference set (or one reference)."""

    name = "biocap-signature-dtw"
    modality = Modality.SIGNATURE

    def __init__(self, *, groups: tuple[str, ...] = GROUPS):
        """`groups`: the local feature groups whose DTW terms are summed (default: all of
        params.LOCAL_GROUPS). `groups=("shape",)` is template version 2's verifier (one DTW over
        x, y, speed, direction, acceleration, pressure), which the bench reports beside it; the
        shipped thresholds (threshold_for_fmr) are calibrated for the default only."""
        unknown = [g for g in groups if g not in GROUP_COLUMNS]
        if not groups or unknown:
            raise InvalidRequest(f"unknown or no signature feature groups {unknown or groups!r}; "
                                 f"choose from {GROUPS}")
        self.groups = tuple(groups)
        self._bounds = np.array([GROUP_BOUNDS[g] for g in self.groups], np.int64)
        self._cal = _calibration()

    def references(self, templates) -> SignatureReferences:
        return SignatureReferences.enroll(templates)

    def distance(self, questioned: SignatureTemplate, refs: SignatureReferences) -> float:
        """The fused distance s of the module docstring (lower = more alike)."""
        if len(refs) == 1:
            pop = self._cal["population"]
            ref_min, pair, g_sd, g_loo = (pop["ref_min_mean"], pop["pair_mean"],
                                          np.asarray(pop["global_sd"]), pop["global_loo"])
        else:
            ref_min, pair, g_sd = refs.ref_min_mean, refs.pair_mean, refs.g_sd
            g_loo = refs.g_loo if math.isfinite(refs.g_loo) else self._cal["population"]["global_loo"]
        stacks = refs.stacks or _stacks([_laid_out(t) for t in refs.templates])
        d = _costs(_laid_out(questioned), stacks, len(refs), self._bounds)
        s = 0.0
        for grp, lo, mean in zip(self.groups, d.min(1).tolist(), d.mean(1).tolist()):
            s += (lo - ref_min[grp]) + (mean - pair[grp])
        g = float(np.minimum(np.abs(questioned.global_ - refs.g_mean) / g_sd, P.GLOBAL_Z_CAP).mean())
        return float(s + P.GLOBAL_WEIGHT * (g - g_loo))

    def compare(self, a, b) -> float:
        """Similarity in (0, 1) of a questioned template and a reference set (either order; a
        bare template as the reference side is a set of one)."""
        if isinstance(a, SignatureReferences) and not isinstance(b, SignatureReferences):
            a, b = b, a
        if not isinstance(a, SignatureTemplate):
            raise InvalidRequest(f"compare needs a SignatureTemplate, got {type(a).__name__}")
        if isinstance(b, SignatureTemplate):
            b = SignatureReferences.enroll([b])
        if not isinstance(b, SignatureReferences):
            raise InvalidRequest(f"compare needs SignatureReferences or a SignatureTemplate as the "
                                 f"reference, got {type(b).__name__}")
        s = self.distance(a, b) / P.SIMILARITY_SCALE
        return float(1.0 / (1.0 + math.exp(min(max(s, -700.0), 700.0))))

    def threshold_for_fmr(self, fmr: float, *, attack: str = "zero-effort") -> float:
        """Similarity a genuine signature must reach for false match rate `fmr` against
        zero-effort impostors (other people's signatures; the default) or skilled forgeries
        (attack="skilled"), from the shipped calibration (SVC2004 users 1-10, calibration.json).
        Below the smallest FMR the calibration resolves, its strictest threshold is returned."""
        if not (isinstance(fmr, (int, float)) and 0 < fmr < 1):
            raise InvalidRequest(f"fmr must be in (0, 1), got {fmr!r}")
        if attack not in ("zero-effort", "skilled"):
            raise InvalidRequest(f"attack must be 'zero-effort' or 'skilled', got {attack!r}")
        if self.groups != GROUPS:
            raise InvalidRequest(f"the shipped thresholds are calibrated for all feature groups "
                                 f"{GROUPS}, not {self.groups}",
                                 hint="use SignatureComparator() for decisions")
        table = self._cal["thresholds"]["random" if attack == "zero-effort" else "skilled"]
        fmrs = np.array([r[0] for r in table], float)
        thr = np.array([r[1] for r in table], float)
        if fmr <= fmrs.min():
            return float(thr[np.argmin(fmrs)])  # the calibration cannot resolve lower: strictest
        if fmr >= fmrs.max():
            return float(thr[np.argmax(fmrs)])
        order = np.argsort(fmrs)
        return float(np.interp(math.log(fmr), np.log(fmrs[order]), thr[order]))

    def gallery(self):
        raise NoProvider("signatures are verified 1:1 against the claimed person's reference set; "
                         "biocap offers no 1:N signature search",
                         hint="compare the questioned signature with the person's references")

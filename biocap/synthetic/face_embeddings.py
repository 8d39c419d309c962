"""Synthetic 128-D face embeddings shaped like a face descriptor's, with genuine mates.

Real descriptors are not isotropic: they share a common direction (every face looks somewhat
like every other face, so impostor cosines centre well above 0) and their spread lives in a
subspace with a decaying spectrum. The model:

    identity  x = normalise(sqrt(c) * mu + sqrt(1 - c) * normalise(z)),  z ~ N(0, Q diag(lam) Q^T)
    image     y = normalise(x + r * normalise(w)),  w ~ the same law, r ~ r0 * LogNormal(0, s)

with mu a fixed unit vector, Q a fixed random rotation and lam_i ~ i^-alpha. Gallery entries and
probes are both images (y) of their identity, never the identity itself. The defaults were
fitted to dlib's 128-D ResNet descriptor (unit-normalised) on ../shared/data/face/lfw7x50
(`research/face_embedding_statistics.py`, 7 people x 50 images):

    7 x 50 images          genuine cos mean  p05    impostor mean  sd     max    eff. dim
    dlib on LFW (341 found)       0.953      0.926       0.855     0.029  0.934   10.0
    this model (3 seeds)          0.954      0.921       0.853     0.031  0.933   10.2

(The effective dimension of 7 identities is bounded by the identity count; over many
identities the model's is ~40, which LFW's 7 people cannot check.) The parameters are in one
place (`EmbeddingModel`); each bench run reports the cosine statistics it produced.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIM = 128
_CHUNK = 65_536


@dataclass(frozen=True)
class EmbeddingModel:
    common: float = 0.895       # c: common direction -> impostor cosine mean 0.853 (dlib: 0.855)
    alpha: float = 0.8          # spectrum decay i^-alpha -> impostor sd 0.031 (dlib: 0.029)
    mate_radius: float = 0.21   # r0: image-to-image genuine cosine 0.954 (dlib: 0.953)
    mate_spread: float = 0.25   # s: log-normal spread of r -> genuine p05 0.921 (dlib: 0.926)


class _Sampler:
    def __init__(self, model: EmbeddingModel, seed: int):
        self.model = model
        fixed = np.random.default_rng(12345)          # the "descriptor" itself: same for every seed
        mu = fixed.standard_normal(DIM)
        self.mu = (mu / np.linalg.norm(mu)).astype(np.float32)
        q, _ = np.linalg.qr(fixed.standard_normal((DIM, DIM)))
        lam = np.arange(1, DIM + 1, dtype=np.float64) ** -model.alpha
        self.transform = (np.sqrt(lam)[:, None] * q.T).astype(np.float32)   # z = g @ transform
        self.rng = np.random.default_rng(seed)

    def _directions(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, DIM), dtype=np.float32) @ self.transform
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def identities(self, n: int) -> np.ndarray:
        out = np.empty((n, DIM), np.float32)
        c = self.model.common
        for s in range(0, n, _CHUNK):
            m = min(_CHUNK, n - s)
            x = np.sqrt(c) * self.mu[None, :] + np.sqrt(1.0 - c) * self._directions(m)
            out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    def mates(self, x: np.ndarray) -> np.ndarray:
        r = self.model.mate_radius * self.rng.lognormal(0.0, self.model.mate_spread, x.shape[0])
        y = x + r[:, None].astype(np.float32) * self._directions(x.shape[0])
        return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


def synthetic_gallery(n: int, probes: int, *, seed: int = 0, mated_fraction: float = 0.5,
                      model: EmbeddingModel = EmbeddingModel()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gallery (n, 128) float32, probes (p, 128) float32, mates (p,) int64: gallery row of each
    probe's identity, -1 for probes whose identity is not enrolled)."""
    sampler = _Sampler(model, seed)
    identities = sampler.identities(n)
    gallery = np.empty_like(identities)
    for s in range(0, n, _CHUNK):                      # the enrolled image of each identity
        gallery[s:s + _CHUNK] = sampler.mates(identities[s:s + _CHUNK])
    n_mated = min(n, int(round(probes * mated_fraction)))
    rows = sampler.rng.choice(n, size=n_mated, replace=False) if n_mated else np.zeros(0, np.int64)
    mated = sampler.mates(identities[rows]) if n_mated else np.zeros((0, DIM), np.float32)
    del identities
    strangers = sampler.mates(sampler.identities(probes - n_mated))
    p = np.concatenate([mated, strangers]).astype(np.float32)
    mates = np.concatenate([rows.astype(np.int64), np.full(probes - n_mated, -1, np.int64)])
    order = sampler.rng.permutation(probes)
    return gallery, np.ascontiguousarray(p[order]), mates[order]


def cosine_statistics(gallery: np.ndarray, probes: np.ndarray, mates: np.ndarray) -> dict:
    """Genuine and impostor cosine summaries of a synthetic set (for reports)."""
    mated = mates >= 0
    genuine = np.einsum("ij,ij->i", probes[mated].astype(np.float64), gallery[mates[mated]].astype(np.float64))
    sample = gallery[: min(len(gallery), 20_000)].astype(np.float64)
    imp = (probes.astype(np.float64) @ sample.T)
    mask = np.ones_like(imp, bool)
    for i, m in enumerate(mates):
        if 0 <= m < sample.shape[0]:
            mask[i, m] = False
    imp = imp[mask]
    return {"genuine_cos_mean": float(genuine.mean()) if genuine.size else None,
            "genuine_cos_p05": float(np.quantile(genuine, 0.05)) if genuine.size else None,
            "impostor_cos_mean": float(imp.mean()), "impostor_cos_sd": float(imp.std()),
            "impostor_cos_max": float(imp.max()), "impostor_pairs": int(imp.size)}

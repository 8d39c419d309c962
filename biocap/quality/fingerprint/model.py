"""A small gradient-boosted regression-tree model in numpy: trained by `research.quality_fingerprint.train`, shipped
as an `.npz` of plain arrays (no pickle), evaluated for a whole batch at once.

Trees are complete binary trees of fixed depth stored level by level, so prediction is `depth`
vectorized gather steps over (samples x trees). A node that found no useful split sends every
sample left (threshold +inf) and both its leaves carry the same value.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ...errors import InvalidDataError

FORMAT = "biocap-gbt-1"
#: what numpy raises for a missing, truncated or foreign .npz
_UNREADABLE = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)


def rank(values) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    v = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    ranks = np.empty(v.size)
    ranks[order] = np.arange(1, v.size + 1)
    # average the ranks of equal values
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def spearman(a, b) -> float:
    """Spearman rank correlation of two equally long sequences (nan when either is constant)."""
    ra, rb = rank(a), rank(b)
    if ra.size != rb.size or ra.size < 2:
        raise ValueError("spearman needs two sequences of the same length >= 2")
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


class GradientBoostedTrees:
    """Least-squares gradient boosting of depth-limited trees on quantile-binned features."""

    def __init__(self, n_trees: int = 150, depth: int = 3, learning_rate: float = 0.08,
                 min_leaf: int = 8, n_bins: int = 32, subsample: float = 0.8, seed: int = 0):
        if n_trees < 1 or not 1 <= depth <= 8 or not 0 < learning_rate <= 1:
            raise ValueError("need n_trees >= 1, depth 1-8 and 0 < learning_rate <= 1")
        self.n_trees, self.depth, self.learning_rate = n_trees, depth, learning_rate
        self.min_leaf, self.n_bins, self.subsample, self.seed = min_leaf, n_bins, subsample, seed
        self.base = 0.0
        self.feature = self.threshold = self.leaves = None
        self.feature_names: tuple[str, ...] = ()
        self.meta: dict = {}

    # --- training ---------------------------------------------------------------------------
    def fit(self, x, y) -> "GradientBoostedTrees":
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.ndim != 2 or x.shape[0] != y.size or y.size < 2 * self.min_leaf:
            raise ValueError(f"need x of shape (n, f) and y of n values, n >= {2 * self.min_leaf}")
        n, f = x.shape
        # candidate thresholds: midpoints between distinct quantiles of each feature
        qs = np.quantile(x, np.linspace(0, 1, self.n_bins + 1)[1:-1], axis=0).T  # (f, bins-1)
        edges = [np.unique(q) for q in qs]
        binned = np.zeros((n, f), np.int32)
        for j in range(f):
            binned[:, j] = np.searchsorted(edges[j], x[:, j], side="right")
        n_bins = self.n_bins
        offsets = np.arange(f) * n_bins
        rng = np.random.default_rng(self.seed)
        internal, n_leaves = 2**self.depth - 1, 2**self.depth
        self.feature = np.zeros((self.n_trees, internal), np.int16)
        self.threshold = np.full((self.n_trees, internal), np.inf, np.float32)
        self.leaves = np.zeros((self.n_trees, n_leaves), np.float32)
        self.base = float(y.mean())
        pred = np.full(n, self.base)
        for t in range(self.n_trees):
            residual = y - pred
            rows = rng.random(n) < self.subsample if self.subsample < 1 else np.ones(n, bool)
            node = np.zeros(n, np.int64)  # node index within the current level
            for level in range(self.depth):
                first = 2**level - 1
                for k in range(2**level):
                    members = rows & (node == k)
                    split = self._best_split(binned[members], residual[members], offsets, n_bins)
                    if split is None:
                        continue
                    j, b = split
                    self.feature[t, first + k] = j
                    self.threshold[t, first + k] = edges[j][b]
                go_right = x[np.arange(n), self.feature[t, first + node]] > \
                    self.threshold[t, first + node]
                node = 2 * node + go_right
            sums = np.bincount(node[rows], weights=residual[rows], minlength=n_leaves)
            counts = np.bincount(node[rows], minlength=n_leaves)
            values = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
            self.leaves[t] = self.learning_rate * values
            pred += self.leaves[t][node]
        return self

    def _best_split(self, binned, residual, offsets, n_bins):
        m = residual.size
        if m < 2 * self.min_leaf:
            return None
        flat = (binned + offsets).ravel()
        f = offsets.size
        sums = np.bincount(flat, weights=np.repeat(residual[:, None], f, 1).ravel(),
                           minlength=f * n_bins).reshape(f, n_bins)
        counts = np.bincount(flat, minlength=f * n_bins).reshape(f, n_bins)
        left_s, left_n = np.cumsum(sums, 1)[:, :-1], np.cumsum(counts, 1)[:, :-1]
        total_s = residual.sum()
        right_s, right_n = total_s - left_s, m - left_n
        ok = (left_n >= self.min_leaf) & (right_n >= self.min_leaf)
        gain = np.where(ok, left_s**2 / np.maximum(left_n, 1) + right_s**2 / np.maximum(right_n, 1)
                        - total_s**2 / m, -np.inf)
        j, b = np.unravel_index(np.argmax(gain), gain.shape)
        if not np.isfinite(gain[j, b]) or gain[j, b] <= 1e-9:
            return None
        return int(j), int(b)

    # --- prediction ---------------------------------------------------------------------------
    def predict(self, x) -> np.ndarray:
        if self.leaves is None:
            raise InvalidDataError("the model is not trained or loaded")
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        expected = len(self.feature_names) or int(self.feature.max(initial=0)) + 1
        if x.ndim != 2 or x.shape[1] != expected and self.feature_names or x.shape[1] < expected:
            raise InvalidDataError(f"the model expects {expected} features per row, "
                                   f"got shape {x.shape}")
        n, trees = x.shape[0], np.arange(self.n_trees)
        node = np.zeros((n, self.n_trees), np.int64)
        rows = np.arange(n)[:, None]
        for level in range(self.depth):
            idx = 2**level - 1 + node
            feat = self.feature[trees, idx]
            go_right = x[rows, feat] > self.threshold[trees, idx]
            node = 2 * node + go_right
        return self.base + self.leaves[trees, node].sum(axis=1)

    # --- storage ------------------------------------------------------------------------------
    def save(self, path, *, feature_names=(), meta=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "depth": self.depth, "n_trees": self.n_trees,
                  "learning_rate": self.learning_rate, "base": self.base,
                  "feature_names": list(feature_names), "meta": meta or {}}
        with open(path, "wb") as fh:
            np.savez_compressed(fh, header=np.array(json.dumps(header)), feature=self.feature,
                                threshold=self.threshold, leaves=self.leaves)

    @classmethod
    def load(cls, path) -> "GradientBoostedTrees":
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                feature, threshold, leaves = data["feature"], data["threshold"], data["leaves"]
        except _UNREADABLE as exc:
            raise InvalidDataError(f"cannot read the quality model {path}: {exc}",
                                   hint="reinstall biocap or retrain with "
                                        "`python -m research.quality_fingerprint.train`") from exc
        if header.get("format") != FORMAT:
            raise InvalidDataError(f"{path} is not a {FORMAT} model (format {header.get('format')!r})")
        depth, n_trees = int(header["depth"]), int(header["n_trees"])
        if feature.shape != (n_trees, 2**depth - 1) or leaves.shape != (n_trees, 2**depth) or \
                threshold.shape != feature.shape:
            raise InvalidDataError(f"{path}: tree arrays do not match depth {depth} x {n_trees} trees")
        model = cls(n_trees=n_trees, depth=depth, learning_rate=float(header["learning_rate"]))
        model.base = float(header["base"])
        model.feature, model.threshold, model.leaves = feature.astype(np.int64), threshold, leaves
        model.feature_names = tuple(header.get("feature_names", ()))
        model.meta = header.get("meta", {})
        if model.feature_names and int(feature.max(initial=0)) >= len(model.feature_names):
            raise InvalidDataError(f"{path}: a tree uses a feature index beyond the feature list")
        return model


class RidgeRegression:
    """Linear least squares on standardised features with an L2 penalty: robust across sensors,
    where the trees are sharper within the sensors they saw."""

    def __init__(self, alpha: float = 300.0):
        if not alpha >= 0:
            raise ValueError("alpha must be >= 0")
        self.alpha = alpha
        self.mean = self.scale = self.weights = None
        self.intercept = 0.0

    def fit(self, x, y) -> "RidgeRegression":
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = (x - self.mean) / self.scale
        self.intercept = float(y.mean())
        self.weights = np.linalg.solve(z.T @ z + self.alpha * np.eye(z.shape[1]),
                                       z.T @ (y - self.intercept))
        return self

    def predict(self, x) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return ((x - self.mean) / self.scale) @ self.weights + self.intercept


class QualityModel:
    """The shipped model: `linear_weight` x ridge + (1 - linear_weight) x boosted trees, in one
    `.npz` of plain arrays. Features are clipped to the range seen in training before either
    part sees them, so that an input unlike the training images (a 4-finger slap has four
    times the area and minutiae of any training print) cannot extrapolate the linear part.

    `used` (a boolean mask over the feature vector, default all) lets the model ignore features
    that rank images differently from one sensor to the next: ignored columns are held at 0 in
    training and prediction, so neither part can use them, and the feature vector keeps its
    full length."""

    def __init__(self, *, alpha: float = 300.0, linear_weight: float = 0.7, n_trees: int = 100,
                 depth: int = 2, learning_rate: float = 0.1, seed: int = 0, used=None):
        if not 0 <= linear_weight <= 1:
            raise ValueError("linear_weight must be within 0-1")
        self.used = None if used is None else np.asarray(used, dtype=bool).ravel()
        self.linear = RidgeRegression(alpha)
        self.trees = GradientBoostedTrees(n_trees=n_trees, depth=depth,
                                          learning_rate=learning_rate, seed=seed)
        self.linear_weight = linear_weight
        self.feature_names: tuple[str, ...] = ()
        self.meta: dict = {}
        self.low = self.high = None  # per-feature range seen in training

    def _mask(self, x: np.ndarray) -> np.ndarray:
        if self.used is None:
            return x
        if self.used.size != x.shape[1]:
            raise InvalidDataError(f"the model's feature mask has {self.used.size} entries, "
                                   f"the data {x.shape[1]} features")
        x = x.copy()
        x[:, ~self.used] = 0.0
        return x

    def fit(self, x, y) -> "QualityModel":
        x = self._mask(np.asarray(x, dtype=np.float64))
        self.low, self.high = x.min(axis=0), x.max(axis=0)
        self.linear.fit(x, y)
        self.trees.fit(x, y)
        return self

    def predict(self, x) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if self.feature_names and x.shape[1] != len(self.feature_names):
            raise InvalidDataError(f"the model expects {len(self.feature_names)} features per "
                                   f"row, got {x.shape[1]}")
        if self.low is not None:
            x = np.clip(x, self.low, self.high)
        x = self._mask(x)
        w = self.linear_weight
        return w * self.linear.predict(x) + (1 - w) * self.trees.predict(x)

    def save(self, path, *, feature_names=(), meta=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        t = self.trees
        header = {"format": FORMAT, "depth": t.depth, "n_trees": t.n_trees,
                  "learning_rate": t.learning_rate, "base": t.base,
                  "linear_weight": self.linear_weight, "alpha": self.linear.alpha,
                  "intercept": self.linear.intercept,
                  "feature_names": list(feature_names), "meta": meta or {}}
        with open(path, "wb") as fh:
            np.savez_compressed(fh, header=np.array(json.dumps(header)), feature=t.feature,
                                threshold=t.threshold, leaves=t.leaves,
                                linear_mean=self.linear.mean, linear_scale=self.linear.scale,
                                linear_weights=self.linear.weights, low=self.low, high=self.high,
                                used=self.used if self.used is not None
                                else np.ones(self.low.size, bool))

    @classmethod
    def load(cls, path) -> "QualityModel":
        trees = GradientBoostedTrees.load(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                mean, scale = data["linear_mean"], data["linear_scale"]
                weights = data["linear_weights"]
                low, high = data["low"], data["high"]
                # models saved before the feature mask use every feature
                used = data["used"].astype(bool) if "used" in data.files else np.ones(low.shape, bool)
        except _UNREADABLE as exc:
            raise InvalidDataError(f"cannot read the linear part of the model {path}: {exc}") from exc
        n = len(trees.feature_names)
        if not (mean.shape == scale.shape == weights.shape == low.shape == high.shape
                == used.shape == (n,)):
            raise InvalidDataError(f"{path}: linear part has {weights.shape} weights for {n} features")
        model = cls(alpha=float(header["alpha"]), linear_weight=float(header["linear_weight"]),
                    n_trees=trees.n_trees, depth=trees.depth, learning_rate=trees.learning_rate)
        model.trees = trees
        model.linear.mean, model.linear.scale, model.linear.weights = mean, scale, weights
        model.linear.intercept = float(header["intercept"])
        model.low, model.high, model.used = low, high, used
        model.feature_names, model.meta = trees.feature_names, trees.meta
        return model

"""Closed-set identification metrics: rank-k identification rate (CMC points)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def rank_k_rates(ranked_ids: Sequence[Sequence[str]], true_ids: Sequence[str],
                 ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """For each k: the fraction of probes whose true mate is among the first k candidates of its
    ranked list (a list shorter than k counts what it has). Probes with an empty list miss."""
    if len(ranked_ids) != len(true_ids):
        raise ValueError(f"{len(ranked_ids)} candidate lists for {len(true_ids)} probes")
    if not true_ids:
        raise ValueError("no probes given")
    if any((not isinstance(k, (int, np.integer))) or k < 1 for k in ks):
        raise ValueError(f"ranks must be positive integers, got {list(ks)}")
    first = []
    for cands, truth in zip(ranked_ids, true_ids):
        pos = next((i for i, c in enumerate(cands) if c == truth), None)
        first.append(np.inf if pos is None else pos + 1)
    first = np.asarray(first, dtype=np.float64)
    return {int(k): float(np.mean(first <= k)) for k in ks}


def cmc_curve(score_matrix: np.ndarray, mate_index: Sequence[int], max_rank: int = 20) -> np.ndarray:
    """Cumulative match characteristic from a (probes x gallery) score matrix and each probe's
    mate column: rates for ranks 1..max_rank. Ties count against the mate (pessimistic)."""
    s = np.asarray(score_matrix, dtype=np.float64)
    m = np.asarray(mate_index, dtype=np.int64)
    if s.ndim != 2 or len(m) != s.shape[0]:
        raise ValueError("score_matrix must be probes x gallery with one mate index per probe")
    if np.any((m < 0) | (m >= s.shape[1])):
        raise ValueError("mate index outside the gallery")
    mate = s[np.arange(len(m)), m]
    rank = (s >= mate[:, None]).sum(1)  # mate itself counts once
    return np.array([np.mean(rank <= k) for k in range(1, max_rank + 1)])

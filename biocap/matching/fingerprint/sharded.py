"""1:N search over gallery shards spread on a Dask cluster (optional extra `distributed`).

Each shard is a gallery file (`FingerprintGallery.save`); every worker loads the shards it is
given once and keeps them in memory; a search sends the probe to every shard, each shard runs the
ordinary two-stage search, and the per-shard top-k lists are merged. Scores of different shards
are comparable (the same comparator), so the merge is a plain sort.

    from distributed import Client
    from biocap.matching.fingerprint.sharded import ShardedGallery
    sharded = ShardedGallery(Client("scheduler:8786"), ["shard0.bfg", "shard1.bfg"])
    result = sharded.search(template, top_k=10, fmr=1e-4)   # SearchResult, as one gallery
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ...errors import InvalidDataError, NoProvider
from ...plugins.contracts import Candidate, SearchResult
from .comparator import FingerprintComparator

_SHARDS: dict[str, Any] = {}  # per worker process: path -> loaded gallery


def _load_shard(path: str) -> int:
    from .gallery import FingerprintGallery

    if path not in _SHARDS:
        _SHARDS[path] = FingerprintGallery.load(path)
    return len(_SHARDS[path])


def _search_shard(path: str, probe: Any, top_k: int) -> list[tuple[str, float]]:
    _load_shard(path)
    return [(c.id, c.score) for c in _SHARDS[path].search(probe, top_k=top_k).candidates]


class ShardedGallery:
    """Read-only search over gallery shard files with a `distributed.Client`."""

    def __init__(self, client: Any, shard_paths: Sequence[str | Path]):
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise NoProvider("sharded search needs dask.distributed",
                             hint="pip install 'biocap[distributed]'") from exc
        if not shard_paths:
            raise InvalidDataError("give at least one gallery shard file")
        self.client = client
        self.paths = [str(Path(p).resolve()) for p in shard_paths]
        missing = [p for p in self.paths if not Path(p).exists()]
        if missing:
            raise InvalidDataError(f"gallery shard files not found: {', '.join(missing)}")
        # load every shard once, on the worker that will serve it (pure=False: load, not cache)
        self._sizes = client.gather([client.submit(_load_shard, p, pure=False, key=f"load-{i}-{p}")
                                     for i, p in enumerate(self.paths)])
        self._comparator = FingerprintComparator()

    def __len__(self) -> int:
        return int(sum(self._sizes))

    def search(self, probe: Any, *, top_k: int = 10, fmr: float | None = None) -> SearchResult:
        """The `top_k` best fingers over every shard, as `FingerprintGallery.search` answers."""
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidDataError(f"top_k must be a positive integer, got {top_k!r}")
        threshold = None if fmr is None else self._comparator.threshold_for_fmr(fmr)
        enc = self._comparator.encode(probe)  # encode once, ship the cylinders
        futures = [self.client.submit(_search_shard, p, enc, top_k, pure=False) for p in self.paths]
        merged = [hit for hits in self.client.gather(futures) for hit in hits]
        merged.sort(key=lambda h: -h[1])
        return SearchResult(tuple(Candidate(i, s) for i, s in merged[:top_k]), fmr, threshold)

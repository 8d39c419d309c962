"""De-duplication over gallery shards on a Dask cluster.

The gallery lives in the centre's SQLite database (table `gallery`, one shard number per
resident, fixed when the resident is enrolled). A search of a batch of probes is one Dask task per
shard: the task carries the database path, the shard, the gallery version (the highest row
enrolled when the batch started) and the probes. On its worker the task brings that worker's copy
of the shard up to exactly that version (reading only the rows it lacks) and runs the person-level
search (`biocap.matching.person`); the per-shard candidates are merged by fused score, which the
shards share, and the decision is taken once, by the service.

* Which worker serves a shard: rendezvous hashing over the workers alive when the batch is sent
  (`workers=[...]`, `allow_other_workers=True`): a worker that joins takes over about 1/W of the
  shards, a worker that leaves hands its shards to the others; a worker that gets a shard it has
  not seen loads it from the database. Moves are counted (`shard_moves`).
* A worker lost mid-search: the scheduler reruns its tasks elsewhere; if the whole gather fails,
  the batch is sent again (new task keys) up to `retries` times. Tasks only read, so a rerun
  cannot change anything; the decision is recorded by the service with the package key as
  primary key, so a batch searched twice is still decided once.
* In-process mode (`client=None`): the same shard tasks run in this process (tests, small sites).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import BiocapError
from ..matching.person import (FMR_ADJUDICATION, FMR_DUPLICATE, PersonCandidate, PersonGallery,
                               PersonSearchResult, PersonTemplates, decide, person_parts,
                               person_to_bytes, person_from_bytes, threshold_for_fmr)
from .db import load_shard_rows

log = logging.getLogger("biocap.centre")

#: shard copies a worker keeps (beyond this the least recently used is dropped)
MAX_SHARDS_PER_WORKER = 64
#: per-shard candidates returned (the merge keeps every one at or above the adjudication line)
SHARD_TOP_K = 5
#: keep the MCC cylinders of gallery residents without two eyes built (PersonGallery.
#: pin_irisless_fingers): about half the residents the bound lets through at 100,000 are
#: theirs; ~10 fingers x ~17 ms once per shard load against ~17 ms per comparison each time
PIN_IRISLESS_FINGERS = True

_CACHE: dict[tuple[str, int], tuple[PersonGallery, int, float]] = {}
_CACHE_LOCK = threading.Lock()


def _shard(db_path: str, key_path: str, shard: int, upto: int) -> PersonGallery:
    with _CACHE_LOCK:
        g, have, _ = _CACHE.get((db_path, shard), (None, 0, 0.0))
        if g is None or have > upto:  # a newer copy than asked: rebuild (never search the future)
            g, have = PersonGallery(), 0
        if upto > have:
            rows = load_shard_rows(db_path, key_path, shard, have, upto)
            start = len(g)
            g.add_encoded([(res,) + person_parts(b) for _, res, b in rows])
            if PIN_IRISLESS_FINGERS:
                g.pin_irisless_fingers(start)
        _CACHE[(db_path, shard)] = (g, upto, time.monotonic())
        if len(_CACHE) > MAX_SHARDS_PER_WORKER:
            oldest = min(_CACHE, key=lambda k: _CACHE[k][2])
            del _CACHE[oldest]
        return g


_PROBES: dict[bytes, PersonTemplates] = {}


def _probe(data: bytes) -> PersonTemplates:
    """A probe decoded once per worker process: the shards a worker serves share it (and the
    MCC templates its finger stage builds)."""
    import hashlib as _h

    key = _h.sha256(data).digest()
    with _CACHE_LOCK:
        p = _PROBES.get(key)
        if p is None:
            if len(_PROBES) > 256:
                _PROBES.clear()
            p = _PROBES[key] = person_from_bytes(data)
    return p


def search_shard(db_path: str, key_path: str, shard: int, upto: int, probes: list[bytes],
                 fmr: tuple[float, float], exhaustive: bool = False) -> dict:
    """One shard's answer for a batch of probes (runs on a Dask worker): {"results": one dict
    per probe, "cpu": CPU seconds of this task per step}."""
    t = time.process_time()
    g = _shard(db_path, key_path, shard, upto)
    persons = [_probe(p) for p in probes]
    cpu = {"shard_load": time.process_time() - t}
    out = []
    for r in g.search_many(persons, fmr=fmr, top_k=SHARD_TOP_K, exhaustive=exhaustive, timings=cpu):
        out.append({"candidates": [(c.id, c.score, c.evidence) for c in r.candidates], "stats": r.stats})
    return {"results": out, "cpu": cpu}


def merge(parts: Sequence[dict], fmr: tuple[float, float], exclude: str | None = None,
          top_k: int = SHARD_TOP_K) -> PersonSearchResult:
    """One decision from the shards' answers for one probe."""
    t_dup, t_adj = threshold_for_fmr(fmr[0]), threshold_for_fmr(fmr[1])
    cands = [PersonCandidate(i, s, ev) for part in parts for i, s, ev in part["candidates"] if i != exclude]
    cands.sort(key=lambda c: (-c.score, c.id))
    keep = max(top_k, sum(c.score >= t_adj for c in cands))
    stats: dict[str, int] = {}
    for part in parts:
        for k, v in part["stats"].items():
            stats[k] = stats.get(k, 0) + int(v) if k in ("residents", "finger_comparisons",
                                                         "finger_bound_needed") else int(v)
    return PersonSearchResult(decide(cands, t_dup, t_adj), tuple(cands[:keep]), t_dup, t_adj,
                              (float(fmr[0]), float(fmr[1])), stats)


def _rank(worker: str, shard: int) -> bytes:
    return hashlib.sha256(f"{worker}|{shard}".encode()).digest()


@dataclass
class ShardPlan:
    assignment: dict[int, str]
    moves: int


class Deduplicator:
    """Searches probes against every shard of the centre's gallery (Dask or in-process)."""

    def __init__(self, db_path: str, key_path: str, shards: int, client: Any = None, retries: int = 3,
                 fmr: tuple[float, float] = (FMR_DUPLICATE, FMR_ADJUDICATION), timeout: float = 300.0):
        self.db_path, self.key_path, self.shards = str(db_path), str(key_path), int(shards)
        self.client = client
        self.retries = int(retries)
        self.fmr = (float(fmr[0]), float(fmr[1]))
        self.timeout = float(timeout)
        self._assignment: dict[int, str] = {}
        self.shard_moves = 0
        self.retried_batches = 0
        self._batch = 0

    def plan(self) -> ShardPlan:
        """Which worker serves each shard: rendezvous hashing with a cap of ceil(shards /
        workers) per worker, starting from the current assignment. A shard stays where it is
        while its worker is alive and under the cap; a worker that leaves hands over only its own
        shards; a worker that joins takes shards only from workers above the new cap (each gives
        its lowest-ranked ones). Plain rendezvous put all 4 shards on one of 2 workers in a run
        (one core idle); the cap keeps every worker busy."""
        workers = sorted(self.client.scheduler_info().get("workers", {})) if self.client else []
        if not workers:
            return ShardPlan({}, 0)
        cap = -(-self.shards // len(workers))
        new = {s: w for s, w in self._assignment.items() if w in workers and s < self.shards}
        load = {w: [s for s in new if new[s] == w] for w in workers}
        for w, mine in load.items():
            for s in sorted(mine, key=lambda s: _rank(w, s))[:max(0, len(mine) - cap)]:
                del new[s]  # over the cap: its lowest-ranked shards go
        count = {w: sum(1 for v in new.values() if v == w) for w in workers}
        for s in range(self.shards):
            if s in new:
                continue
            for w in sorted(workers, key=lambda w: _rank(w, s), reverse=True):
                if count[w] < cap:
                    new[s] = w
                    count[w] += 1
                    break
        moves = sum(1 for s, w in new.items() if self._assignment.get(s) not in (None, w))
        self._assignment = new
        self.shard_moves += moves
        return ShardPlan(new, moves)

    def search(self, probes: Sequence[PersonTemplates], upto: int, exclude: Sequence[str | None] | None = None,
               exhaustive: bool = False, timings: dict[str, float] | None = None) -> list[PersonSearchResult]:
        """Every probe against every shard, one decision each. `timings` accumulates the shard
        tasks' CPU seconds per step (whichever process ran them)."""
        payload = [person_to_bytes(p) for p in probes]
        exclude = list(exclude) if exclude is not None else [None] * len(payload)
        per_shard = self._run(payload, upto, exhaustive)
        if timings is not None:
            for part in per_shard:
                for k, v in part["cpu"].items():
                    timings[k] = timings.get(k, 0.0) + v
        return [merge([per_shard[s]["results"][b] for s in range(self.shards)], self.fmr, exclude[b])
                for b in range(len(payload))]

    def _run(self, payload: list[bytes], upto: int, exhaustive: bool) -> list[dict]:
        if self.client is None:
            return [search_shard(self.db_path, self.key_path, s, upto, payload, self.fmr, exhaustive)
                    for s in range(self.shards)]
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            self._batch += 1
            plan = self.plan()
            futures = []
            try:
                data = payload  # a few KB a probe: sent with each shard's task
                for s in range(self.shards):
                    w = plan.assignment.get(s)
                    futures.append(self.client.submit(
                        search_shard, self.db_path, self.key_path, s, upto, data, self.fmr, exhaustive,
                        key=f"shard-{s}-b{self._batch}-a{attempt}", workers=[w] if w else None,
                        allow_other_workers=True, pure=False, retries=2))
                return self.client.gather(futures, errors="raise", direct=False) \
                    if self.timeout is None else _gather(self.client, futures, self.timeout)
            except Exception as exc:  # worker lost, connection closed, timeout: send the batch again
                last = exc
                self.retried_batches += 1
                log.warning("shard search failed (%s: %s); retrying batch (attempt %d)",
                            type(exc).__name__, exc, attempt + 1)
                for f in futures:
                    f.cancel()
                time.sleep(min(2.0, 0.2 * (attempt + 1)))
        raise DedupUnavailable(f"the gallery shards did not answer after {self.retries + 1} attempts: {last}")


def _gather(client, futures, timeout):
    from distributed import wait

    done = wait(futures, timeout=timeout, return_when="ALL_COMPLETED")
    if done.not_done:
        raise TimeoutError(f"{len(done.not_done)} shard tasks still running after {timeout} s")
    return client.gather(futures)


class DedupUnavailable(BiocapError):
    hint = "the Dask cluster is unreachable; the packages stay queued and are searched when it is back"


def start_cluster(scheduler: str | None, n_workers: int = 2):
    """A distributed Client: to `scheduler` when given, else a local cluster of `n_workers`
    processes (one thread each: the search kernels use numpy and hold the GIL in parts)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BiocapError("the centre needs dask.distributed", hint="pip install 'biocap[centre]'") from exc
    if scheduler:
        return Client(scheduler, timeout="30s"), None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.WARNING)
    return Client(cluster), cluster


__all__ = ["Deduplicator", "DedupUnavailable", "merge", "search_shard", "start_cluster"]

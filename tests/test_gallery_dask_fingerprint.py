"""Sharded 1:N search on a local Dask cluster (optional extra `distributed`)."""
import pytest

from biocap.matching.fingerprint.comparator import FingerprintComparator

distributed = pytest.importorskip("distributed", reason="the optional `distributed` extra")
from biocap.synthetic.fingerprint import templates as synthetic  # noqa: E402


def test_sharded_search_matches_one_gallery(tmp_path):
    from biocap.matching.fingerprint.sharded import ShardedGallery

    fingers = {}
    for fid, imp, t in synthetic.iter_finger_templates(15, 2, seed=5):
        fingers.setdefault(fid, []).append(t)
    whole = FingerprintComparator().gallery()
    shards = [FingerprintComparator().gallery() for _ in range(3)]
    for fid, imps in fingers.items():
        whole.add(f"f{fid}", imps[0])
        shards[fid % 3].add(f"f{fid}", imps[0])
    paths = []
    for k, g in enumerate(shards):
        paths.append(tmp_path / f"s{k}.bfg")
        g.save(paths[-1])
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        sharded = ShardedGallery(client, paths)
        assert len(sharded) == len(whole)
        for fid in (4, 11):
            # exhaustive within each shard = exhaustive over the whole: the same top candidates
            got = sharded.search(fingers[fid][1], top_k=3)
            assert got.best.id == f"f{fid}"
            assert got.best == whole.search(fingers[fid][1], top_k=1).best

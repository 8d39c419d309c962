"""Issue 17: a small version of benchmarks/bench_mutation.py (the full run is >= 20,000 cases):
mutated office stores (file and WAL), galleries, records of every codec and recordings give only
accepted inputs or clean BiocapErrors / problem lists, never another exception, a hang over 2 s
or a worker over 1 GB.

Failed before: the full run's first pass found loads of seed-identical fingerprint galleries
taking 3.5-5 s (the cohort table rebuilt on every load) and header values beyond any tuning
(1e300, 2**64) accepted; both fixed (prefilter/cohort cache, gallery PARAM_RANGE)."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_mutation.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_mutation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_small_mutation_run_is_clean():
    bench = _bench()
    result = bench.run(200, seed=17, hang_s=2.0, mem_limit_mb=2048)
    totals = bench.totals(result)
    assert sum(totals.values()) >= 190
    assert totals["escape"] == 0 and totals["hang"] == 0, result["findings"]
    assert all(c.get("seed ok") == 1 for c in result["counts"].values()), result["counts"]
    assert totals["clean"] > totals["ok"] > 0  # mutations are mostly refused, some harmless
    assert result["peak_rss_mb"]["worker"] < 1024
    for store in ("store:db", "store:wal"):  # the office store is part of the run
        assert sum(v for k, v in result["counts"][store].items() if not k.startswith("seed")) >= 5
        seen = result["counts"][store]
        assert seen.get("clean", 0) + seen.get("behind anchor", 0) > 0  # damage noticed
        assert seen.get("rolled back", 0) == 0  # lost commits are refused (the store's anchor)

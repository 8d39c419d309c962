"""benchmarks/results/dedup.md from the load test's JSON reports (bench_dedup_cluster.sh)."""
import json
import sys
from pathlib import Path

RES = Path(__file__).resolve().parent / "results"
RUNS = [("dedup_local", "local cluster (2 worker processes)"),
        ("dedup_local_rerun", "local cluster again, lighter machine load (a restart planned at 120 s came after the end)"),
        ("dedup_cluster", "`dask scheduler` + 2 `dask worker` processes"),
        ("dedup_cluster_kill", "external cluster, 3 workers, one serving a shard SIGKILLed mid-search, a 4th joins"),
        ("dedup_restart", "local cluster, service SIGKILLed 20 s after its first accepted package, restarted"),
        ("dedup_restart_late", "local cluster, service SIGKILLed 45 s after its first accepted package (113 decided, 47 queued), restarted")]
ROWS = ["residents_per_s", "centre_cpu_ms_per_resident", "residents_per_s_per_dedicated_core", "latency_ms_p50",
        "latency_ms_p99", "duplicates_planted", "duplicates_found", "duplicates_wrong_mate", "false_duplicates",
        "unique_residents", "adjudications", "same_as_exhaustive", "exhaustive_checked", "bytes_per_resident",
        "db_bytes_per_resident", "accepted", "decided", "undecided_accepted", "decisions_without_package",
        "office_attempts", "worker_killed_at_s", "service_restarted_at_s"]


def main() -> int:
    runs = [(name, what, json.loads((RES / f"{name}.json").read_text())) for name, what in RUNS
            if (RES / f"{name}.json").exists()]
    out = ["# biocap bench dedup: results", "",
           "Gallery 10,000 residents (ten fingers, two irises, a face each; 2 % without irises, 2 % "
           "without two fingers), 160 new residents from 4 office processes through a network stub "
           "(5 % of connections dropped, up to 30 ms delay), 40 planted duplicates (20 re-enrolments "
           "of gallery residents, 20 persons enrolled at two offices; every 4th without irises, every "
           "5th without two fingers). Commands: `benchmarks/bench_dedup_cluster.sh 10000 160 40` and "
           "`biocap bench dedup --residents 10000 --offices 4 --duplicates 40 --new 160 --json "
           "benchmarks/results/dedup_local.json`. The machine's 2 cores were shared with about a dozen "
           "other processes (load average 20-34) during every run: wall-clock rates and latencies are "
           "those of a small share of two cores; `centre_cpu_ms_per_resident` is the CPU time of all the "
           "centre's processes (service, scheduler, workers) per decided resident.", "",
           "| | " + " | ".join(f"{n}<br>({w})" for n, w, _ in runs) + " |",
           "|---|" + "---|" * len(runs)]
    for key in ROWS:
        out.append(f"| {key} | " + " | ".join(str(d.get(key)) for _, _, d in runs) + " |")
    out.append("| shard_moves | " + " | ".join(str(d["centre_metrics"].get("shard_moves")) for _, _, d in runs) + " |")
    out.append("| retried_batches | " + " | ".join(str(d["centre_metrics"].get("retried_batches")) for _, _, d in runs) + " |")
    (RES / "dedup.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

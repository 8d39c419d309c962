"""benchmarks/results/dedup.md from the load test's JSON reports (bench_dedup_cluster.sh)."""
import json
import sys
from pathlib import Path

RES = Path(__file__).resolve().parent / "results"
RUNS = [("dedup_local_36k", "local cluster (2 worker processes), final session 8 code (67fca4e: pinned iris-less cylinders)"),
        ("dedup_local", "local cluster (2 worker processes), session 8 code 8ad8242"),
        ("dedup_local_before", "local cluster, session 7 code (irises extracted at the centre), 16,000 residents"),
        ("dedup_cluster", "`dask scheduler` + 2 `dask worker` processes; session 7 code, not rerun"),
        ("dedup_cluster_kill", "external cluster, 3 workers, one serving a shard SIGKILLed mid-run, a 4th joins; "
                               "session 7 code, not rerun"),
        ("dedup_restart", "local cluster, service SIGKILLed 60 s after its first accepted package, restarted; "
                          "session 7 code, not rerun")]
ROWS = ["gallery_before", "new_residents", "residents_per_s", "centre_cpu_ms_per_resident", "residents_per_s_per_dedicated_core", "latency_ms_p50",
        "latency_ms_p99", "duplicates_planted", "duplicates_found", "duplicates_wrong_mate", "false_duplicates",
        "unique_residents", "adjudications", "same_as_exhaustive", "exhaustive_checked", "bytes_per_resident",
        "db_bytes_per_resident", "accepted", "decided", "undecided_accepted", "decisions_without_package",
        "office_attempts", "worker_killed_at_s", "service_restarted_at_s"]


def main() -> int:
    runs = [(name, what, json.loads((RES / f"{name}.json").read_text())) for name, what in RUNS
            if (RES / f"{name}.json").exists()]
    runs = [r for r in runs if "packages" in r[2]]  # office-package runs only (not the old envelope's)
    out = ["# biocap bench dedup: results", "",
           "Each run: a gallery of `gallery_before` residents (ten fingers, two irises, a face each, "
           "template-level, biocap.synthetic.population; 2 % without irises, 2 % without two fingers; "
           "the gallery mates of planted re-enrolments enrolled from their own rendered first capture), "
           "`new_residents` new residents sent as the office's signed ANSI/NIST-ITL packages "
           "(`biocap.centre.loadtest.HOW_MADE`: rendered iris images, ISO/IEC 19794-2 finger records, "
           "the synthetic face embedding) by 4 office processes through a network stub (5 % of "
           "connections dropped, up to 30 ms delay), planted duplicates (half re-enrolments of gallery "
           "residents, half persons enrolled at two offices; every 4th without irises, every 5th "
           "without two fingers). `iris templates` says where the centre took them from: `record` = "
           "the desk's Type-99 template record (`docs/decisions/22-template-records.md`), `image` = "
           "extracted at the centre from the image (runs made before that change). Commands: "
           "`biocap bench dedup --residents N --offices 4 --duplicates D --new M --json "
           "benchmarks/results/dedup_local.json` and `benchmarks/bench_dedup_cluster.sh N M D`. The "
           "machine's 2 cores were shared with 7 other agents (load average at the end of each run "
           "below): wall-clock rates and latencies are those of a small share of two cores; "
           "`centre_cpu_ms_per_resident` is the CPU time of all the centre's processes (service, "
           "scheduler, workers) per decided resident, and the `cpu_ms_*` rows split it by step "
           "(`/metrics` `cpu_s`; in the restart run only the second service process's steps, in the "
           "worker-kill run without the killed worker's CPU).", "",
           "| | " + " | ".join(f"{n}<br>({w})" for n, w, _ in runs) + " |",
           "|---|" + "---|" * len(runs)]
    for key in ROWS:
        out.append(f"| {key} | " + " | ".join(str(d.get(key)) for _, _, d in runs) + " |")
    def sources(d):
        c = d["centre_metrics"].get("counters", {})
        rec, img = c.get("templates_from_record_iris", 0), c.get("templates_from_image_iris", 0)
        return f"record {rec}, image {img}" if rec or img else "image (all)"
    out.append("| iris templates | " + " | ".join(sources(d) for _, _, d in runs) + " |")
    for step in ("arrival_read_extract", "iris", "face", "fingers", "shard_load", "decide_record"):
        out.append(f"| cpu_ms_{step} per resident | " + " | ".join(
            str(round(1000 * d["centre_metrics"].get("cpu_s", {}).get(step, 0.0) / max(d.get("decided") or 1, 1), 1))
            for _, _, d in runs) + " |")
    out.append("| load_average_end (1, 5, 15 min) | " + " | ".join(
        str([round(x, 1) for x in d.get("load_average_end", [])]) for _, _, d in runs) + " |")
    out.append("| shard_moves | " + " | ".join(str(d["centre_metrics"].get("shard_moves")) for _, _, d in runs) + " |")
    out.append("| retried_batches | " + " | ".join(str(d["centre_metrics"].get("retried_batches")) for _, _, d in runs) + " |")
    (RES / "dedup.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

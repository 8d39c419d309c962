"""Sum the station's benchmark reports (several seeds run side by side) into one table.

    .venv/bin/python benchmarks/station_summary.py      # writes benchmarks/results/station.md

Reads benchmarks/results/slap_segmentation_seed*.json (beside the earlier segmenter's in
results/station_before/), sequence_check_seed*.json,
enrollment_time.json and enroll_kill.json as they are (a run still going has written its
report so far) and pools the counts.
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def _load(pattern: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS.glob(pattern))]


def _pool(runs: list[dict]) -> dict:
    sims = [r["simulated"] for r in runs]
    n = sum(s["fingers"] for s in sims)
    slaps = sum(s["slaps"] for s in sims)
    return {"fingers": n, "slaps": slaps,
            "iou": sum(s["iou_ge_0_8"] * s["fingers"] for s in sims) / n,
            "num": sum(s["finger_number_right"] * s["fingers"] for s in sims) / n,
            "miss": sum(s["missing_fingers_named_exactly_per_slap"] * s["slaps"] for s in sims) / slaps,
            "with_missing": sum(s["slaps_with_missing_finger"] for s in sims),
            "ms": sorted(s["segment_ms_per_slap_median"] for s in sims)[len(sims) // 2],
            "seeds": ", ".join(str(s["seed"]) for s in sims)}


def main() -> int:
    lines = ["# Enrollment station: benchmark summary (issue 20)", "",
             "Made by `benchmarks/station_summary.py` from the reports beside it; each report "
             "names its command.", ""]
    segs = _load("slap_segmentation_seed*.json")
    before = _load("station_before/slap_segmentation_seed*.json")
    if segs:
        now, was = _pool(segs), _pool(before) if before else None
        refs = [r for r in segs if "reference" in r]
        prev = _pool([r["reference"] for r in refs]) if len(refs) == len(segs) else None
        rev = refs[0]["reference"]["revision"] if prev else ""
        ratio = (sorted(r["simulated"]["segment_ms_per_slap_median"]
                        / r["reference"]["simulated"]["segment_ms_per_slap_median"] for r in refs)
                 if prev else [])

        def col(key: str, fmt: str = "{:.1%}") -> str:
            cells = [fmt.format(now[key])]
            cells += [fmt.format(prev[key])] if prev else []
            cells += [fmt.format(was[key])] if was else []
            return " | ".join(cells)

        head = "| measure | now | " + (f"previous ({rev}), same slaps | " if prev else "") \
            + ("before (330627e) | " if was else "") + "target |"
        lines += ["## Slap segmentation", "",
                  f"Simulated slaps with ground truth: {now['slaps']} slaps ({now['with_missing']} "
                  f"with a finger missing), {now['fingers']} fingers, seeds {now['seeds']}"
                  + (f"; beside it in the same runs the segmenter at {rev} on the same slaps"
                     if prev else "")
                  + (f"; and the segmenter as of 330627e on {was['slaps']} slaps, seeds "
                     f"{was['seeds']} (`results/station_before/`)" if was else "") + ".", "",
                  head, "|---|---|" + ("---|" if prev else "") + ("---|" if was else "") + "---|",
                  f"| fingertip box IoU >= 0.8 | {col('iou')} | >= 98% |",
                  f"| finger number right | {col('num')} | >= 99% |",
                  f"| missing fingers named exactly (per slap) | {col('miss')} | all |",
                  f"| time per slap (median of the runs' medians, CPU) | {col('ms', '{:.0f} ms')} | "
                  "NFSEG: not reachable (nbis-py has no NFSEG) |", ""]
        if prev:
            lines += [f"Time per slap now / at {rev}, measured in the same run on the same slaps "
                      f"(per seed): {', '.join(f'{x:.2f}' for x in ratio)}. The 330627e column "
                      "comes from other runs on a shared, loaded machine: not a ratio.", ""]
        real = segs[0]["real"]
        if "slaps" in real:
            lines += ["Real slaps (`type4-slaps.an2k`, NIST test transaction, scanned ink card):", ""]
            for r in real["slaps"]:
                if "found" in r:
                    lines.append(f"- FGP {r['fgp']} ({r['size'][0]}x{r['size'][1]}): found "
                                 f"{r['found']}, missing {r['missing']}, fingertip quality "
                                 f"{r['fingertip_quality']}, {r['segment_ms']} ms")
            lines += ["", "Checked: four fingers named in the slap's order in each; the boxes "
                      "(centre, size, angle in the report's `real` section) are the ones checked "
                      "by eye on the overlays in session 7 (`--overlay DIR` draws them; not "
                      "committed: copies of the shared data), unchanged since.", ""]
    seqs = _load("sequence_check_seed*.json")
    if seqs:
        done = sum(s["enrollments_done"] for s in seqs)
        clean = sum(s["clean_flagged"] for s in seqs)
        pf = sum(s["planted_flagged"] for s in seqs)
        pt = sum(s["planted_total"] for s in seqs)
        per: dict[str, list[int]] = {}
        for s in seqs:
            for k, v in s["planted"].items():
                a = per.setdefault(k, [0, 0])
                a[0] += v["flagged"]
                a[1] += v["n"]
        lines += ["## Sequence check", "",
                  f"{done} clean enrollments and {pt} planted ones (seeds "
                  f"{', '.join(str(s['seed']) for s in seqs)}; "
                  + ("code " + ", ".join(sorted({s["code"] for s in seqs if s.get("code")}))
                     if any(s.get("code") for s in seqs) else "code not recorded")
                  + ").", "",
                  "| set | flagged | target |", "|---|---|---|",
                  f"| clean | {clean} of {done} | none |",
                  f"| planted, all | {pf} of {pt} | all |"]
        lines += [f"| planted, {k} | {v[0]} of {v[1]} | all |" for k, v in per.items()]
        lines.append("")
    enr = _load("enrollment_time.json")
    if enr:
        e = enr[0]
        lines += ["## A complete e-KTP enrollment (machine time, one core)", "",
                  f"Station {e['station_cpu_s_max']} s of CPU at most over {len(e['runs'])} run(s) "
                  f"({e['cpu_s_max_including_simulator']} s with the simulator's own rendering); "
                  "target <= 30 s.", "", "| step | station CPU s | simulator CPU s | attempts |",
                  "|---|---|---|---|"]
        for k, v in e["runs"][0]["steps"].items():
            lines.append(f"| {k} | {v['station_cpu_s']:.2f} | {v['sim_cpu_s']:.2f} | {v['attempts']} |")
        lines += ["", "Stages (CPU s, capture includes the simulator and the SDK's per-frame "
                  "quality): " + ", ".join(f"{k} {v}" for k, v in e["runs"][0]["stages_cpu_s"].items()
                                           if v), ""]
    kill = _load("enroll_kill.json")
    if kill:
        k = kill[0]
        lines += ["## kill -9 and resume", "",
                  f"{k['kills']} kills over {k['enrollments']} enrollments: all ended with the "
                  f"reference's record: {k['all_same_as_reference']}; captures lost: "
                  f"{k['captures_lost']}; failures: {len(k['failures'])}; wall time "
                  f"{k.get('wall_s', '?')} s (limit {k.get('time_limit_s', '-')} s, cut by it: "
                  f"{k.get('cut_by_time_limit', '-')}); code: {k.get('code_commit', 'as committed')}.", ""]
    (RESULTS / "station.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

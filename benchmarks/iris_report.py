"""Combine the iris bench JSONs into benchmarks/results/iris.json and iris.md."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results")
parts = {k: json.loads((out / f"iris_{k}.json").read_text())
         for k in ("verify_casia", "verify_mmu2", "search", "calibration") if (out / f"iris_{k}.json").exists()}
(out / "iris.json").write_text(json.dumps(parts, indent=2) + "\n")


def pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


lines = ["# Iris benchmark (biocap-iris)", "",
         "Reproduce: `benchmarks/bench_iris.sh` (all figures below come from `iris.json`).", "",
         "## Verification (all pairs; EER over pairs of enrolled images, FTE apart)", "",
         "| set | EER | FMR1000 | EER incl. failures | FTE | genuine | impostor | extract ms (median, CPU) | target |",
         "|---|---|---|---|---|---|---|---|---|"]
targets = {"verify_casia": "EER <= 0.5%, FTE <= 1%", "verify_mmu2": "EER <= 4%, FTE <= 2%"}
for key, name in (("verify_casia", "CASIA-IrisV1"), ("verify_mmu2", "MMU2")):
    r = parts.get(key)
    if r:
        lines.append(f"| {name} | {pct(r['eer'])} | {pct(r['fmr1000'])} | {pct(r['eer_with_failures'])} | "
                     f"{pct(r['fte'])} | {r['n_genuine']} | {r['n_impostor']} | "
                     f"{r['extract_ms_median']:.0f} | {targets[key]} |")
s = parts.get("search")
if s:
    lines += ["", "## 1:N search", "",
              f"Gallery {s['gallery_size']:,} codes ({s['real_codes_in_gallery']} real, "
              f"{s['filler_codes']:,} fillers), {s['probes']} real probes whose mates were planted, "
              f"{s['rotations']} rotations, threshold HD_norm <= {s['threshold_hd_norm']}, "
              f"{s['bytes_per_gallery_eye']} B per gallery eye.", "",
              "| figure | value |", "|---|---|",
              f"| gallery codes searched per second per core (CPU time) | {s['per_second_per_core']:,.0f} |",
              f"| exhaustive search, same kernel, per second per core | {s['exhaustive_per_second_per_core']:,.0f} |",
              f"| ceiling: gallery codes+masks streamed once, per second per core | {s['ceiling_per_second_per_core']:,.0f} |",
              f"| first-stage key words streamed once, per second per core | {s['key_stream_per_second_per_core']:,.0f} |",
              f"| ratio to exhaustive search / to the ceiling | {s['per_second_per_core'] / s['exhaustive_per_second_per_core']:.1f}x / {s['per_second_per_core'] / s['ceiling_per_second_per_core']:.2f} |",
              f"| gallery eyes passing the first stage per probe (mean) | {s['mean_second_stage_per_probe']:,.0f} |",
              f"| gallery eyes reaching the full comparison per probe (mean) | {s['mean_full_comparisons_per_probe']:,.0f} |",
              f"| same decisions as exhaustive search | {s['same_as_exhaustive']} (top-1 {s['same_top1']}/{s['probes']}, match sets {s['same_match_sets']}/{s['probes']}) |",
              f"| planted mates at or below the threshold: found / missed | {s['planted_found']} / {s['planted_missed']} |",
              f"| planted mates above the threshold (accuracy, not search) | {s['planted_mates_over_threshold']} |",
              f"| pruning stages on all genuine pairs at the threshold | {s['coarse_stage_check']} |",
              f"| first-stage survival of real probes: against real impostor codes / against fillers | {s.get('stage1_survival_real_impostors', float('nan')):.4f} / {s.get('stage1_survival_fillers', float('nan')):.4f} |",
              f"| unmasked fraction per 16 code columns: real | {s.get('unmasked_per_16_columns_real')} |",
              f"| unmasked fraction per 16 code columns: filler | {s.get('unmasked_per_16_columns_filler')} |",
              f"| neighbouring-bit agreement (column, row): real / filler | {tuple(round(v, 3) for v in s['real_neighbour_agreement'])} / {tuple(round(v, 3) for v in s['filler_neighbour_agreement'] or ())} |",
              f"| impostor HD_norm (median, 1st percentile): real / filler | {tuple(round(v, 3) for v in s['impostor_hd_real_median_p1'])} / {tuple(round(v, 3) for v in s['impostor_hd_filler_median_p1'] or ())} |",
              "", "Target: >= 5,000,000 gallery codes per second per core with the decisions of exhaustive search."]
c = parts.get("calibration")
if c:
    lines += ["", "## Pruning lines", "",
              "Reproduce: `.venv/bin/python benchmarks/iris_calibrate.py --json benchmarks/results/iris_calibration.json "
              "--write-defaults` (writes the lines into `IrisGallery`'s defaults; run it after any encoder change, "
              "then the search bench).", "",
              f"Calibrated on all {c['genuine_pairs']:,} CASIA-IrisV1 + MMU2 genuine pairs at HD_norm <= {c['threshold']} "
              f"with margins {c['margin1']:g} / {c['margin2']:g} disagreements: first line slope {c['slope1']} offset "
              f"{c['offset1']:g}, second line slope {c['slope2']} offset {c['offset2']:g}; real impostor comparisons surviving "
              f"the first stage {100 * c['impostor_survival_stage1']:.2f}%, both {100 * c['impostor_survival_both']:.3f}%.", "",
              "Held-out check (lines calibrated on one dataset alone, applied to the other's genuine pairs):", "",
              "| calibrated on | checked on | genuine pairs | lost | smallest slack (first line / both lines at one rotation) |", "|---|---|---|---|---|"]
    for h in c.get("held_out", []):
        lines.append(f"| {h['calibrated_on']} | {h['checked_on']} | {h['genuine_pairs']} | {h['lost']} | "
                     f"{h['smallest_slack_stage1']} / {h['smallest_slack_both']} |")
(out / "iris.md").write_text("\n".join(lines) + "\n")
print((out / "iris.md").read_text())

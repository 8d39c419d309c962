"""Benchmark of the synthetic fingerprint generator, judged by tools independent of it.

    .venv/bin/python benchmarks/bench_synthetic_fingerprint.py [--seed 7] [--quick]

On a generated 10 fingers x 8 impressions set per sensor profile:
- NIST NBIS (nbis-py: mindtct + bozorth3, NFIQ 2): EER/FMR100 under the all-impostors FVC protocol
  (biocap.evaluation.datasets.all_pairs + metrics.error_rates), NFIQ 2 median and spread, mindtct
  minutiae per image; the same figures on the real FVC2002 B sets in the same run, side by side;
- biocap's own extractor (when present): precision and recall of the ground-truth minutiae
  (matched one-to-one within 10 px and 20 degrees);
- speed: impressions per second per core (one process, masters included), and the template-level
  mode's fingers per second with its peak memory at two gallery sizes (flat = nothing is kept).
Writes benchmarks/results/synthetic_fingerprint.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from biocap.evaluation.data import data_path  # noqa: E402
from biocap.evaluation.datasets import all_pairs, load_layout  # noqa: E402
from biocap.evaluation.metrics import error_rates  # noqa: E402
from biocap.synthetic.fingerprint.dataset import generate_dataset  # noqa: E402
from biocap.synthetic.fingerprint.templates import iter_finger_templates  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FVC_SETS = {"fvc2002_db1_b": 500.0, "fvc2002_db2_b": 569.0, "fvc2002_db3_b": 500.0,
            "fvc2002_db4_b": 500.0}


def nbis_judge(folder: Path, ppi: float) -> dict:
    """mindtct + NFIQ 2 per image, bozorth3 over all pairs (FVC, all impostors)."""
    import nbis
    # NFIQ 2 is defined at 500 ppi: other resolutions are resampled to it first
    ex = nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=True,
        ppi=500.0))
    # NFIQ 2 refuses a few images (e.g. too little foreground): those keep their minutiae and
    # are counted as NFIQ 2 failures
    ex_plain = nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False,
        ppi=500.0))
    nfiq_failures = 0
    items = load_layout(folder, "fvc")
    items = [it for it in items if it.path.suffix.lower() in (".png", ".tif", ".bmp")]
    templates, n_min, nfiq = [], [], []
    t0 = time.perf_counter()
    for it in items:
        img = cv2.imread(str(it.path), cv2.IMREAD_GRAYSCALE)
        if abs(ppi - 500.0) > 0.5:
            img = cv2.resize(img, None, fx=500.0 / ppi, fy=500.0 / ppi,
                             interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", img)
        try:
            t = ex.extract_minutiae(buf.tobytes())
            nfiq.append(int(t.quality().score))
        except nbis.NbisError:
            nfiq_failures += 1
            t = ex_plain.extract_minutiae(buf.tobytes())
        templates.append(t)
        n_min.append(len(t.get()))
    t_extract = time.perf_counter() - t0
    genuine, impostor = all_pairs(items)
    g = [float(templates[a].compare(templates[b])) for a, b in genuine]
    i = [float(templates[a].compare(templates[b])) for a, b in impostor]
    rates = error_rates(g, i)
    q = np.percentile(nfiq, [10, 25, 50, 75, 90])
    return {"images": len(items), "eer": rates.eer, "fmr100": rates.fmr100,
            "genuine_median_score": float(np.median(g)),
            "nfiq2_median": float(q[2]), "nfiq2_p10_p90": [float(q[0]), float(q[4])],
            "nfiq2_iqr": float(q[3] - q[1]), "nfiq2_sd": float(np.std(nfiq)),
            "nfiq2_failures": nfiq_failures,
            "mindtct_minutiae_median": float(np.median(n_min)),
            "mindtct_minutiae_p5_p95": [float(np.percentile(n_min, 5)),
                                        float(np.percentile(n_min, 95))],
            "mindtct_minutiae_min_max": [int(min(n_min)), int(max(n_min))],
            "nbis_seconds_per_image": t_extract / max(1, len(items))}


def match_ground_truth(found: np.ndarray, truth: np.ndarray, max_dist=10.0,
                       max_angle=np.deg2rad(20)) -> int:
    """One-to-one matches (greedy by distance) within max_dist px and max_angle (direction)."""
    if len(found) == 0 or len(truth) == 0:
        return 0
    d = np.hypot(found[:, None, 0] - truth[None, :, 0], found[:, None, 1] - truth[None, :, 1])
    da = np.abs(np.mod(found[:, None, 2] - truth[None, :, 2] + np.pi, 2 * np.pi) - np.pi)
    d = np.where((d <= max_dist) & (da <= max_angle), d, np.inf)
    n = 0
    while np.isfinite(d).any():
        a, b = np.unravel_index(np.argmin(d), d.shape)
        d[a, :] = np.inf
        d[:, b] = np.inf
        n += 1
    return n


def biocap_matcher_eer(templates: list, subjects: list[str]) -> dict:
    """EER of biocap's own comparator over all pairs (FVC all-impostors protocol)."""
    try:
        from biocap.matching.fingerprint.comparator import FingerprintComparator
    except ImportError as exc:
        return {"skipped": f"biocap comparator not available ({exc})"}
    from biocap.evaluation.datasets import Item
    cmp = FingerprintComparator()
    encoded = [cmp.encode(t) for t in templates]
    items = [Item(Path(str(k)), s) for k, s in enumerate(subjects)]
    genuine, impostor = all_pairs(items)
    scores = {}
    t0 = time.perf_counter()
    for a in range(len(encoded)):
        partners = [b for b in range(a + 1, len(encoded))]
        if partners:
            got = cmp.compare_many(encoded[a], [encoded[b] for b in partners])
            scores.update({(a, b): float(v) for b, v in zip(partners, got)})
    rates = error_rates([scores[p] for p in genuine], [scores[p] for p in impostor])
    return {"eer": rates.eer, "fmr100": rates.fmr100,
            "seconds": time.perf_counter() - t0}


def template_mode_accuracy(seed: int, sensor: str = "optical") -> dict:
    """The template-level generator's 10 x 8 set through biocap's comparator."""
    from biocap.synthetic.fingerprint.sensors import sensor_profile
    p = sensor_profile(sensor)
    templates, subjects = [], []
    for f, _, t in iter_finger_templates(10, 8, seed, p.ppi, p.width, p.height):
        templates.append(t)
        subjects.append(str(f))
    return biocap_matcher_eer(templates, subjects)


def biocap_extractor_recovery(folder: Path) -> dict | None:
    try:
        from biocap.templates.fingerprint import extract_template
        from biocap.types import Modality, Sample
    except ImportError as exc:
        return {"skipped": f"biocap extractor not available ({exc})"}
    tp = n_found = n_truth = tp_axis = tp_clear = n_clear = 0
    templates, subjects = [], []
    t0 = time.perf_counter()
    n_img = 0
    for png in sorted(folder.glob("*_*.png")):
        gt = json.loads(png.with_suffix(".json").read_text())
        truth = np.array([[m["x"], m["y"], m["angle"]] for m in gt["minutiae"]]).reshape(-1, 3)
        clear = np.array([m.get("clear", True) for m in gt["minutiae"]], bool)
        img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        t = extract_template(Sample(image=img, ppi=gt["ppi"], modality=Modality.FINGERPRINT))
        templates.append(t)
        subjects.append(str(gt["finger"]))
        m = t.minutiae
        found = np.stack([m["x"], m["y"], m["angle"]], axis=1).astype(np.float64)
        tp += match_ground_truth(found, truth)
        tp_clear += match_ground_truth(found, truth[clear])
        n_clear += int(clear.sum())
        # the same with the angle taken modulo pi: tells a direction-convention mismatch apart
        flipped = found.copy()
        flipped[:, 2] += np.pi
        tp_axis += max(match_ground_truth(found, truth), match_ground_truth(flipped, truth))
        n_found += len(found)
        n_truth += len(truth)
        n_img += 1
    return {"images": n_img, "precision": tp / max(1, n_found), "recall": tp / max(1, n_truth),
            "found_per_image": n_found / max(1, n_img), "truth_per_image": n_truth / max(1, n_img),
            "recall_if_direction_flipped": tp_axis / max(1, n_truth),
            "recall_of_clear_minutiae": tp_clear / max(1, n_clear),
            "clear_per_image": n_clear / max(1, n_img),
            "seconds_per_image": (time.perf_counter() - t0) / max(1, n_img),
            "match_rule": "one-to-one, <= 10 px and <= 20 degrees",
            "biocap_matcher": biocap_matcher_eer(templates, subjects)}


def template_mode_speed(n_fingers: int, seed: int) -> dict:
    """Time `n_fingers` x 1 impression (no tracing), check they are distinct, and show that
    peak memory does not grow with the gallery (traced at two smaller sizes)."""
    import hashlib
    t0 = time.process_time()
    digests = set()
    minutiae = 0
    for _, _, t in iter_finger_templates(n_fingers, 1, seed):
        digests.add(hashlib.blake2b(t.minutiae.tobytes(), digest_size=8).digest())
        minutiae += len(t)
    dt = time.process_time() - t0
    out = {"fingers": n_fingers, "cpu_seconds": dt, "fingers_per_second_per_core": n_fingers / dt,
           "distinct_templates": len(digests), "mean_minutiae": minutiae / n_fingers,
           "peak_traced_memory_mb": {}}
    for n in (max(100, n_fingers // 50), max(1000, n_fingers // 5)):
        tracemalloc.start()
        for _ in iter_finger_templates(n, 1, seed):
            pass
        out["peak_traced_memory_mb"][str(n)] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="optical only, no FVC reference")
    ap.add_argument("--sensors", default="optical,capacitive,thermal",
                    help="comma-separated sensor profiles to generate and judge")
    ap.add_argument("--template-fingers", type=int, default=100_000,
                    help="gallery size for the template-mode speed/memory check")
    args = ap.parse_args(argv)
    report: dict = {"seed": args.seed, "synthetic": {}, "fvc_reference": {}}
    sensors = ["optical"] if args.quick else [x for x in args.sensors.split(",") if x]
    with tempfile.TemporaryDirectory() as tmp:
        for sensor in sensors:
            folder = Path(tmp) / sensor
            gen = generate_dataset(folder, 10, 8, args.seed, sensor=sensor, workers=1)
            entry = {"generation": gen.to_json()}
            entry["generation"].pop("out")
            ppi = json.loads((folder / "dataset.json").read_text())["ppi"]
            try:
                entry["nbis"] = nbis_judge(folder, ppi)
            except ImportError as exc:
                entry["nbis"] = {"skipped": f"nbis-py not installed ({exc})"}
            entry["biocap_extractor"] = biocap_extractor_recovery(folder)
            report["synthetic"][sensor] = entry
            print(sensor, json.dumps(entry, default=float), file=sys.stderr)
            if sensor == "optical":
                grid = [cv2.imread(str(folder / f"{f}_{k}.png"), 0) for f in (1, 2, 3)
                        for k in (1, 3, 5, 7)]
                rows = [np.hstack(grid[r * 4:(r + 1) * 4]) for r in range(3)]
                cv2.imwrite("/tmp/synthetic_fingerprint_grid.png", np.vstack(rows))
    if not args.quick:
        for name, ppi in FVC_SETS.items():
            folder = data_path("fingerprint", name)
            if folder.exists():
                report["fvc_reference"][name] = nbis_judge(folder, 500.0)
                print(name, json.dumps(report["fvc_reference"][name]), file=sys.stderr)
    report["template_mode"] = template_mode_speed(args.template_fingers, args.seed)
    report["template_mode"]["biocap_matcher_10x8"] = template_mode_accuracy(args.seed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synthetic_fingerprint.json").write_text(json.dumps(report, indent=1,
                                                                   default=float) + "\n")
    (RESULTS / "synthetic_fingerprint.md").write_text(to_markdown(report, args))
    print(to_markdown(report, args))
    return 0


def _f(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.2f}%" if pct else (f"{v:.1f}" if isinstance(v, float) else str(v))


def to_markdown(r: dict, args) -> str:
    cmd = "`.venv/bin/python benchmarks/bench_synthetic_fingerprint.py" + (
        " --quick" if args.quick else "") + f" --seed {args.seed}`"
    lines = ["# Synthetic fingerprints judged by NIST NBIS", "",
             f"Reproduce: {cmd}. 10 fingers x 8 impressions per set (FVC2002 conditions: "
             "impressions 1-2 normal, 3-4 displaced, 5-6 dry, 7-8 wet); FVC all-impostors "
             "protocol (280 genuine, 2,880 impostor); NBIS = nbis-py mindtct + bozorth3 + NFIQ 2.",
             "", "| set | EER | FMR100 | NFIQ2 median | NFIQ2 P10-P90 | NFIQ2 IQR | "
             "mindtct minutiae median (P5-P95) |", "|---|---|---|---|---|---|---|"]
    rows = [(f"synthetic {k}", v.get("nbis", {})) for k, v in r["synthetic"].items()]
    rows += [(k, v) for k, v in r["fvc_reference"].items()]
    for name, n in rows:
        if "eer" not in n:
            lines.append(f"| {name} | {n.get('skipped', '-')} | | | | | |")
            continue
        lines.append(f"| {name} | {_f(n['eer'], True)} | {_f(n['fmr100'], True)} | "
                     f"{n['nfiq2_median']:.0f} | {n['nfiq2_p10_p90'][0]:.0f}-"
                     f"{n['nfiq2_p10_p90'][1]:.0f} | {n['nfiq2_iqr']:.1f} | "
                     f"{n['mindtct_minutiae_median']:.0f} ({n['mindtct_minutiae_p5_p95'][0]:.0f}"
                     f"-{n['mindtct_minutiae_p5_p95'][1]:.0f}) |")
    lines += ["", "## Ground truth recovered by biocap's extractor "
              "(one-to-one, within 10 px and 20 degrees)", "",
              "| sensor | precision | recall | recall of clear minutiae | found / truth (clear) "
              "per image | recall with found directions flipped |", "|---|---|---|---|---|---|"]
    for k, v in r["synthetic"].items():
        e = v.get("biocap_extractor") or {}
        if "precision" in e:
            lines.append(f"| {k} | {e['precision']:.3f} | {e['recall']:.3f} | "
                         f"{e['recall_of_clear_minutiae']:.3f} | "
                         f"{e['found_per_image']:.1f} / {e['truth_per_image']:.1f} "
                         f"({e['clear_per_image']:.1f}) | "
                         f"{e['recall_if_direction_flipped']:.3f} |")
        else:
            lines.append(f"| {k} | {e.get('skipped', '-')} | | | | |")
    lines += ["", "## biocap's comparator (biocap-mcc) on the same 10 x 8 sets", "",
              "| set | EER | FMR100 |", "|---|---|---|"]
    for k, v in r["synthetic"].items():
        m = (v.get("biocap_extractor") or {}).get("biocap_matcher") or {}
        if "eer" in m:
            lines.append(f"| images, {k} (biocap extractor) | {_f(m['eer'], True)} | "
                         f"{_f(m['fmr100'], True)} |")
    m = r["template_mode"].get("biocap_matcher_10x8") or {}
    if "eer" in m:
        lines.append(f"| templates only (optical geometry) | {_f(m['eer'], True)} | "
                     f"{_f(m['fmr100'], True)} |")
    lines += ["", "## Speed (one process; per core)", "",
              "| mode | figure |", "|---|---|"]
    for k, v in r["synthetic"].items():
        g = v["generation"]
        lines.append(f"| images, {k} (10 masters + 80 impressions, PNG + JSON written) | "
                     f"{g['impressions_per_second_per_core']:.1f} impressions/s/core |")
    v = r["template_mode"]
    mem = ", ".join(f"{float(mb):.2f} MB at {int(n):,}" for n, mb in
                    v["peak_traced_memory_mb"].items())
    lines.append(f"| templates only, {v['fingers']:,} fingers x 1 impression | "
                 f"{v['fingers_per_second_per_core']:.0f} fingers/s/core; "
                 f"{v['distinct_templates']:,} distinct; peak traced memory {mem} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

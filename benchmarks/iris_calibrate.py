"""Recompute the iris gallery's pruning lines (biocap.matching.iris.gallery.IrisGallery defaults).

Extracts every image of CASIA-IrisV1 and MMU2, takes every genuine pair whose full HD_norm is at
or below the threshold, and prints the lines that keep all of them with an 8-disagreement margin
while pruning the most real impostor comparisons. It also calibrates on each dataset alone and
counts the other dataset's genuine pairs those lines would lose (a held-out check of the margin).
Usage:
    .venv/bin/python benchmarks/iris_calibrate.py [THRESHOLD] [--json OUT] [--write-defaults]
(threshold default 0.28). --write-defaults writes slope1/offset1/slope2/offset2 into IrisGallery's
defaults in biocap/matching/iris/params.py (otherwise copy them by hand); OUT (e.g.
benchmarks/results/iris_calibration.json) is shown by benchmarks/iris_report.py. After an
encoder change, the unattended sequence is:
    .venv/bin/python benchmarks/iris_calibrate.py --json benchmarks/results/iris_calibration.json --write-defaults
    .venv/bin/biocap bench search --modality iris --dataset ../shared/data/iris/casia_irisv1 \
        --layout casia-iris --gallery-size 1000000 --probes 40 --json benchmarks/results/iris_search.json
    .venv/bin/python benchmarks/iris_report.py benchmarks/results
"""
import json
import re
import sys
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_iris import _genuine_key_stats, calibrate_coarse, extract_all
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import load_layout
from biocap.matching.iris.gallery import IrisGallery

args = sys.argv[1:]
write_defaults = "--write-defaults" in args
args = [a for a in args if a != "--write-defaults"]
out_path = None
if "--json" in args:
    i = args.index("--json")
    out_path = Path(args[i + 1])
    args = args[:i] + args[i + 2:]
threshold = float(args[0]) if args else 0.28
sets = {}
for i, (folder, layout) in enumerate((("casia_irisv1", "casia-iris"), ("mmu2", "mmu2"))):
    items = load_layout(data_path("iris", folder), layout)
    c, m, k, _ = extract_all(items)
    sets[folder] = (c, m, k, np.array([f"{i}_{it.subject}" for it in items]))
result = calibrate_coarse(*(np.concatenate([v[j] for v in sets.values()]) for j in range(4)), threshold)
held_out = []
for cal_on, check_on in (("casia_irisv1", "mmu2"), ("mmu2", "casia_irisv1")):
    lines = calibrate_coarse(*sets[cal_on], threshold)
    g = IrisGallery(threshold=threshold, slope1=lines["slope1"], offset1=lines["offset1"],
                    slope2=lines["slope2"], offset2=lines["offset2"])
    stats = _genuine_key_stats(*sets[check_on], threshold)
    s1 = np.concatenate([g.stage1_slack(st).max(axis=1) for st in stats])
    both = np.concatenate([g.joint_slack(st) for st in stats])
    held_out.append({"calibrated_on": cal_on, "checked_on": check_on, "genuine_pairs": int(s1.size),
                     "lost": int((both < 0).sum()), "smallest_slack_stage1": int(s1.min()),
                     "smallest_slack_both": int(both.min())})
result["held_out"] = held_out
text = json.dumps(result, indent=2)
print(text)
if out_path:
    out_path.write_text(text + "\n")
if write_defaults:
    source = Path(__file__).resolve().parents[1] / "biocap" / "matching" / "iris" / "params.py"
    text = source.read_text()
    for name in ("slope1", "offset1", "slope2", "offset2"):
        text, n = re.subn(rf"^({name.upper()} = )[-+0-9.eE]+", rf"\g<1>{float(result[name])!r}", text, flags=re.M)
        if n != 1:
            sys.exit(f"could not find the default of {name} in {source}")
    source.write_text(text)
    print(f"wrote the lines into {source}", file=sys.stderr)

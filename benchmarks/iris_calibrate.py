"""Recompute the iris gallery's pruning lines (biocap.matching.iris_gallery.IrisGallery defaults).

Extracts every image of CASIA-IrisV1 and MMU2, takes every genuine pair whose full HD_norm is at
or below the threshold, and prints the lines that keep all of them with a 4-disagreement margin
while pruning the most real impostor comparisons. Usage:
    .venv/bin/python benchmarks/iris_calibrate.py [THRESHOLD]     (default 0.28)
"""
import json
import sys

import numpy as np

from biocap.evaluation.bench_iris import calibrate_coarse, extract_all
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import load_layout

threshold = float(sys.argv[1]) if len(sys.argv) > 1 else 0.28
codes, masks, ok, subject = [], [], [], []
for i, (folder, layout) in enumerate((("casia_irisv1", "casia-iris"), ("mmu2", "mmu2"))):
    items = load_layout(data_path("iris", folder), layout)
    c, m, k, _ = extract_all(items)
    codes.append(c)
    masks.append(m)
    ok.append(k)
    subject.append(np.array([f"{i}_{it.subject}" for it in items]))
print(json.dumps(calibrate_coarse(np.concatenate(codes), np.concatenate(masks), np.concatenate(ok),
                                  np.concatenate(subject), threshold), indent=2))

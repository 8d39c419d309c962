#!/usr/bin/env bash
# Reproduces benchmarks/results/iris.{json,md}: verification accuracy on CASIA-IrisV1 and MMU2
# (all pairs), and 1:N search on a 1,000,000-code gallery (real codes + fillers) against
# exhaustive search and the memory-bandwidth ceiling of the same machine.
# Usage: benchmarks/bench_iris.sh [GALLERY_SIZE] [PROBES]   (defaults 1000000 and 40)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIOCAP=${BIOCAP:-.venv/bin/biocap}
DATA=${BIOCAP_DATA:-../shared/data}
OUT=benchmarks/results
N=${1:-1000000}
P=${2:-40}
mkdir -p "$OUT"
"$BIOCAP" bench verify --modality iris --dataset "$DATA/iris/casia_irisv1" --layout casia-iris \
    --json "$OUT/iris_verify_casia.json" --plot "$OUT/iris_det_casia.png" > /dev/null
"$BIOCAP" bench verify --modality iris --dataset "$DATA/iris/mmu2" --layout mmu2 \
    --json "$OUT/iris_verify_mmu2.json" --plot "$OUT/iris_det_mmu2.png" > /dev/null
"$BIOCAP" bench search --modality iris --dataset "$DATA/iris/casia_irisv1" --layout casia-iris \
    --gallery-size "$N" --probes "$P" --json "$OUT/iris_search.json" > /dev/null
"$PY" benchmarks/iris_report.py "$OUT"

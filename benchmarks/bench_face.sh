#!/bin/sh
# Face benchmarks (docs/face.md): lfw7x50 verification with dlib's plain pipeline as the
# reference, quality responses + ERC, speed on the simulated camera's frames, calibration check.
set -e
cd "$(dirname "$0")/.."
DATA=${BIOCAP_DATA:-../shared/data}
.venv/bin/biocap bench verify --modality face --dataset "$DATA/face/lfw7x50" --layout lfw-folders \
    --json benchmarks/results/bench_verify_face.json --plot benchmarks/results/bench_verify_face.png
.venv/bin/biocap bench quality --modality face --dataset "$DATA/face/lfw7x50" --layout lfw-folders \
    --json benchmarks/results/bench_quality_face.json
.venv/bin/python benchmarks/bench_face_speed.py --json benchmarks/results/bench_face_speed.json
.venv/bin/python research/face_calibrate.py --dataset "$DATA/face/lfw7x50"
# quality responses and ERC of this tree against the version before the eye measures (330627e),
# side by side in one run (docs/decisions/18-face-quality-response.md); then only the ERC on the
# undegraded images (~1/20 of the work)
OLD=$(mktemp -d)
git archive 330627e | tar -x -C "$OLD"
.venv/bin/python benchmarks/bench_face_quality_versions.py --other "$OLD" --dataset "$DATA/face/lfw7x50"
.venv/bin/python benchmarks/bench_face_quality_versions.py --other "$OLD" --dataset "$DATA/face/lfw7x50" \
    --only erc-originals
rm -rf "$OLD"

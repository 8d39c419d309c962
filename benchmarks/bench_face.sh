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

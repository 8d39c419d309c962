#!/usr/bin/env bash
# The centre's load test on a Dask cluster started as separate processes (`dask scheduler`,
# two `dask worker`), then again with one worker killed mid-run, then on the local cluster with the
# service killed and restarted mid-load. Reports: benchmarks/results/dedup_*.json.
#   benchmarks/bench_dedup_cluster.sh [RESIDENTS] [NEW] [DUPLICATES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-16000}; NEW=${2:-160}; DUPS=${3:-40}
BIN=.venv/bin
OUT=benchmarks/results
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SCHED=tcp://127.0.0.1:$PORT
LOGS=$(mktemp -d /tmp/biocap-dask-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_worker() {  # run in this shell (not in $(...)) so its PID reaches the cleanup list
  $BIN/dask worker "$SCHED" --nthreads 1 --no-nanny --no-dashboard --name "$1" > "$LOGS/worker-$1.log" 2>&1 &
  pids+=($!)
}
$BIN/dask scheduler --port "$PORT" --no-dashboard > "$LOGS/scheduler.log" 2>&1 &
pids+=($!)
sleep 5
start_worker w1
start_worker w2
sleep 5
COMMON="--residents $N --offices 4 --duplicates $DUPS --new $NEW --exhaustive-sample 40"
# 1. external scheduler, two workers
$BIN/biocap bench dedup $COMMON --scheduler "$SCHED" --json $OUT/dedup_cluster.json > /dev/null
# 2. the same with a third worker, and one worker that serves a shard killed (SIGKILL) 30 s after
#    the first accepted package (its shards move to the others); a fourth joins later
start_worker w3
sleep 5
$BIN/dask worker "$SCHED" --nthreads 1 --no-nanny --no-dashboard --name w4 > "$LOGS/worker-w4.log" 2>&1 &
W4=$!; pids+=($W4); kill -STOP $W4  # a fourth worker, held back; it joins 90 s later
( sleep 90; kill -CONT $W4 ) &
$BIN/biocap bench dedup $COMMON --scheduler "$SCHED" --kill-worker auto --kill-after 30 \
    --json $OUT/dedup_cluster_kill.json > /dev/null
# 3. local cluster, the service killed (SIGKILL) and started again 60 s after its first accepted package
$BIN/biocap bench dedup $COMMON --restart-after 60 --json $OUT/dedup_restart.json > /dev/null
echo "logs: $LOGS"

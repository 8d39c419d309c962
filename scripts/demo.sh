#!/usr/bin/env bash
# The e-KTP main job on the embedded defaults, end to end (what `make demo` runs):
# desk -> office -> centre -> the office's status of the centre's decision.
#
#   1. an office is set up (store key + signing key), a resident is enrolled on the simulated
#      devices (4-4-2 slaps, irises, face, signature, desk 1:1) into the encrypted office store;
#   2. the store is backed up online and the backup verified; the resident's signed ANSI/NIST-ITL
#      package is exported and verified;
#   3. a centre is started on 127.0.0.1 (its own SQLite state, a local Dask cluster), the office is
#      registered by its public key, the package is sent, and the office's status shows what the
#      centre decided (unique: card ready);
#   4. a second office enrolls the same person under another id on another visit (another
#      simulator seed: same fingers, eyes and face, new presentations) and sends it: the centre
#      finds the duplicate ("one person, one card").
# Everything lands in demo-output/ (files 0600, key directories 0700).
set -euo pipefail
umask 077  # everything the demo writes (stores, keys, packages, logs) is the operator's alone
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-demo-output}
SUBJECT=${SUBJECT:-demo-subject-0001}
OFFICE=office-demo
KEYS="$OUT/keys"
STORE="$OUT/office.db"
OFFICE_B=office-demo-b
KEYS_B="$OUT/keys-b"
STORE_B="$OUT/office-b.db"
SUBJECT_B=${SUBJECT_B:-demo-subject-0002}
CENTRE_DATA="$OUT/centre"

step() { printf '\n== %s\n' "$*"; }

wait_decided() {  # until the centre has decided the subject (or 300 s)
    "$BIN/python" - "$URL" "$1" <<'EOF'
import sys, time, httpx
url, subject = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 300
state = None
while time.monotonic() < deadline:
    state = httpx.get(f"{url}/residents/{subject}", timeout=10).json().get("state")
    if state not in (None, "queued", "received", "checked"):
        sys.exit(0)
    time.sleep(1)
sys.exit(f"the centre had not decided {subject} within 300 s (last state {state!r})")
EOF
}

rm -rf "$OUT"
mkdir -p "$OUT"
chmod 700 "$OUT"

step "office: keys and an empty encrypted store"
"$BIN/biocap" office init --keys "$KEYS" --office-id "$OFFICE" --store "$STORE"

step "desk: enrollment on the simulated devices"
# --operator-reason: after the policy's attempts a capture still below quality is accepted only
# with this reason, which is stored with it (shown by `record show` as an override)
"$BIN/biocap" enroll --policy ektp --subject "$SUBJECT" --store "$STORE" --keys "$KEYS" \
    --operator-reason "demo operator: reviewed on screen"
"$BIN/biocap" record show "$SUBJECT" --store "$STORE" --keys "$KEYS"

step "office: online backup, verified"
"$BIN/biocap" office backup --store "$STORE" --to "$OUT/backups" --keys "$KEYS"
"$BIN/biocap" office verify "$OUT/backups" --keys "$KEYS"

step "office: the signed ANSI/NIST-ITL package for the centre"
"$BIN/biocap" office export "$SUBJECT" --store "$STORE" --out "$OUT/$SUBJECT.an2" --keys "$KEYS"
"$BIN/biocap" office verify "$OUT/$SUBJECT.an2" --keys "$KEYS"

step "centre: start the de-duplication service (local Dask cluster) on 127.0.0.1"
"$BIN/biocap" centre add-office --data "$CENTRE_DATA" --office "$OFFICE" --key "$KEYS/office-signing.pub"
# the second office's keys and store, made ahead so the centre knows both offices when it starts
"$BIN/biocap" office init --keys "$KEYS_B" --office-id "$OFFICE_B" --store "$STORE_B"
"$BIN/biocap" centre add-office --data "$CENTRE_DATA" --office "$OFFICE_B" --key "$KEYS_B/office-signing.pub"
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
"$BIN/biocap" centre serve --data "$CENTRE_DATA" --host 127.0.0.1 --port "$PORT" \
    >"$OUT/centre.log" 2>&1 &
CENTRE_PID=$!
trap 'kill "$CENTRE_PID" 2>/dev/null || true; wait "$CENTRE_PID" 2>/dev/null || true' EXIT
"$BIN/python" - "$URL" "$CENTRE_PID" <<'EOF'
import os, sys, time, httpx
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 180
while time.monotonic() < deadline:
    try:
        if httpx.get(f"{url}/health", timeout=5).json().get("status") == "ok":
            print(f"centre up at {url}")
            sys.exit(0)
    except (httpx.HTTPError, ValueError):
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the centre exited while starting: see demo-output/centre.log")
    time.sleep(0.5)
sys.exit("the centre did not answer /health within 180 s: see demo-output/centre.log")
EOF

step "office: send the queue to the centre"
"$BIN/biocap" office send --store "$STORE" --to "$URL" --keys "$KEYS"

step "office: the centre's decision, as the office sees it"
wait_decided "$SUBJECT"
"$BIN/biocap" office status "$SUBJECT" --store "$STORE" --keys "$KEYS" --centre "$URL"

step "another office enrolls the same person as $SUBJECT_B (another visit) and sends it"
BIOCAP_SIM_SEED=5 "$BIN/biocap" enroll --policy ektp --subject "$SUBJECT_B" --store "$STORE_B" \
    --keys "$KEYS_B" --operator-reason "demo operator: reviewed on screen" | tail -n 4
"$BIN/biocap" office export "$SUBJECT_B" --store "$STORE_B" --out "$OUT/$SUBJECT_B.an2" --keys "$KEYS_B"
"$BIN/biocap" office send --store "$STORE_B" --to "$URL" --keys "$KEYS_B"
wait_decided "$SUBJECT_B"
"$BIN/biocap" office status "$SUBJECT_B" --store "$STORE_B" --keys "$KEYS_B" --centre "$URL"

"""`biocap enroll` and `biocap record show`: the desk's enrollment on the attached devices.

    biocap enroll --policy ektp --subject 3201-0001 --store office.db [--keys DIR]
    biocap enroll --resume --subject 3201-0001 --store office.db
    biocap record show 3201-0001 --store office.db --json

Devices: every attached one (the simulated sensors by default). Rejected captures are retaken
up to the policy's attempts; then (or at once for a modality without a quality provider) the
capture is overridden only with the operator's reason: `--operator-reason TEXT` for an
unattended desk, else the operator is asked on a terminal; without either the enrollment stops
and stays open (`--resume`). `--exception POS:CODE[:REASON]` declares what cannot be captured.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import BiocapError
from ..types import Modality


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="enroll one resident step by step on the attached devices")
    p.add_argument("--policy", default="ektp", help="shipped policy name or a .toml file (default ektp)")
    p.add_argument("--subject", required=True, help="the resident's id")
    p.add_argument("--store", type=Path, required=True, help="the office store file")
    p.add_argument("--keys", type=Path, default=None,
                   help="key directory (default BIOCAP_KEYS; created beside the store when absent)")
    p.add_argument("--operator", default="operator", help="operator id recorded with the enrollment")
    p.add_argument("--resume", action="store_true", help="continue the subject's unfinished enrollment")
    p.add_argument("--operator-reason", default=None,
                   help="reason recorded when a rejected capture is accepted after the attempts")
    p.add_argument("--exception", action="append", default=[], metavar="POS:CODE[:REASON]",
                   help="declare a position that cannot be captured (repeatable)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per capture")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_enroll)

    rec = sub.add_parser("record", help="records in the office store")
    rsub = rec.add_subparsers(dest="record_command", metavar="COMMAND")
    show = rsub.add_parser("show", help="a resident's latest record")
    show.add_argument("subject")
    show.add_argument("--store", type=Path, required=True)
    show.add_argument("--keys", type=Path, default=None)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_record_show)


def _keys(args) -> Any:
    from ..office import KeyRing
    from ..office.keys import KEYS_ENV
    import os
    directory = args.keys or (Path(os.environ[KEYS_ENV]) if os.environ.get(KEYS_ENV) else None)
    if directory is None:
        directory = args.store.with_name(args.store.name + ".keys")
        if not directory.exists():
            _progress(f"creating a key directory {directory} (keep it apart from the store "
                      "in production: --keys DIR)")
            return KeyRing.create(directory, "office-local")
    return KeyRing.load(directory)


def _parse_exceptions(items: list[str]) -> list[tuple[int, str, str | None]]:
    from ..station.errors import PolicyError
    out = []
    for item in items:
        parts = item.split(":", 2)
        if len(parts) < 2 or not parts[0].strip().isdigit() or not parts[1].strip():
            raise PolicyError(f"--exception {item!r}: expected POS:CODE[:REASON], e.g. 5:XX:amputated")
        reason = parts[2].strip() if len(parts) == 3 else None
        if len(parts) == 3 and not reason:
            raise PolicyError(f"--exception {item!r}: the reason is empty",
                              hint="give a reason or leave it out to use the policy's")
        out.append((int(parts[0]), parts[1].strip(), reason))
    return out


def _enroll(args: argparse.Namespace) -> int:
    from ..office import CaptureRecord, OfficeStore
    from ..station.policy import load_policy
    from ..station.session import EnrollmentSession
    from .device_commands import make_sdk

    policy = load_policy(args.policy)
    declared = _parse_exceptions(args.exception)
    for pos, code, _ in declared:  # checked before any capture
        step = next((s for s in policy.steps if pos in s.fingers), None)
        if step is None:
            from ..station.errors import PolicyError
            raise PolicyError(f"--exception {pos}:{code}: no step of policy {policy.name!r} "
                              f"captures position {pos}")
        policy.exception(step.modality, code)
    sdk = make_sdk(args)
    devices = policy.check_devices(sdk.devices())
    for modality, info in sorted(devices.items(), key=lambda kv: kv[0].value):
        _progress(f"  {modality.value}: {info.id} ({info.vendor} {info.model})")
    started = time.monotonic()
    with OfficeStore(args.store, keys=_keys(args), actor=args.operator) as store:
        opener = EnrollmentSession.resume if args.resume else EnrollmentSession.begin
        session = opener(sdk, policy, store, args.subject, capture_type=CaptureRecord,
                         **({"operator": args.operator} if not args.resume else {}))
        if args.resume:
            _progress(f"resuming enrollment {session.enrollment_id} of {args.subject}: "
                      f"{len(session.captured)} captures already stored")
        for pos, code, reason in declared:
            key_done = any(k.endswith(f":{pos}") for k in session.excepted)
            if not key_done:
                session.declare_exception(pos, code, reason,
                                          step=next(s.id for s in policy.steps if pos in s.fingers))
        while (prompt := session.next_step()) is not None:
            head = f"[{prompt.index}/{prompt.total}] {prompt.step.id}"
            _progress(f"{head}: {prompt.text} (attempt {prompt.attempt}/{prompt.max_attempts})")
            outcome = session.capture(timeout_s=args.timeout)
            quality = ", ".join(f"{_pos(prompt.step.modality, p)} {q}" for p, q in outcome.quality.items())
            if outcome.accepted:
                _progress(f"  accepted ({quality}); stored {len(outcome.stored)} record(s)")
                continue
            _progress(f"  rejected ({quality}):")
            for problem in outcome.problems:
                _progress(f"    - {problem.message}")
            if outcome.can_override:
                reason = args.operator_reason or _ask_reason(outcome)
                if reason is None:
                    _progress("no operator reason to override: the enrollment stays open; "
                              "run again with --resume")
                    return 3
                done = session.override(reason)
                _progress(f"  overridden by the operator: {done.override_reason}")
            elif prompt.attempt >= prompt.max_attempts * 3:
                _progress(f"  {prompt.step.id} failed {prompt.attempt} times: the enrollment "
                          "stays open; declare exceptions or resume later")
                return 3
        summary = session.finish()
    cpu = dict(session.timings)
    summary["elapsed_s"] = round(time.monotonic() - started, 2)
    dup = summary.get("duplicate_check") or {}
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        state = "complete" if summary["complete"] else "finished with declared exceptions"
        print(f"enrollment {session.enrollment_id} of {args.subject}: {state}; "
              f"{summary['captures']} captures, fingers {summary['fingers']}, "
              f"exceptions {len(summary['exceptions'])}, overrides {len(summary['overrides'])}")
        for v in summary["verification"]:
            verdict = "MATCH" if v["accepted"] else "NO MATCH"
            print(f"  desk 1:1 finger {v['position']}: score {v['score']:.4f} >= "
                  f"{v['threshold']:.4f} at FMR {v['fmr']:g}? {verdict}")
        if dup:
            print("  " + _duplicate_line(dup))
        print("  machine time by step: " + ", ".join(f"{k} {v:.2f}s" for k, v in
                                                    sorted(cpu.items(), key=lambda kv: -kv[1])))
    if dup.get("decision") in ("duplicate", "adjudication"):
        # stored and finished (the evidence is kept), but not a new person: the caller must know
        return DUPLICATE_EXIT
    return 0


#: exit status of `biocap enroll` when the desk's duplicate check finds the person already
#: enrolled at this office (or needs a supervisor's look): the record is stored with the finding
DUPLICATE_EXIT = 4


def _duplicate_line(dup: dict) -> str:
    n = dup.get("residents_searched", 0)
    decision = dup.get("decision")
    if decision == "duplicate":
        return (f"desk duplicate check: DUPLICATE of {dup.get('matched')} (searched {n} residents of this "
                "office): the person is already enrolled; do not issue a second card, refer to the supervisor")
    if decision == "adjudication":
        top = (dup.get("candidates") or [{}])[0].get("id")
        return (f"desk duplicate check: POSSIBLE DUPLICATE of {top} (searched {n} residents): "
                "a supervisor must compare the records before the card is issued")
    return f"desk duplicate check: unique among this office's {n} residents"


def _ask_reason(outcome) -> str | None:
    if not sys.stdin.isatty():
        return None
    try:
        text = input("  accept anyway? give the reason (empty: no): ").strip()
    except EOFError:
        return None
    return text or None


def _pos(modality: Modality, p: int) -> str:
    from ..types import FingerPosition, IrisPosition
    if modality is Modality.FINGERPRINT and p:
        return FingerPosition(p).name.lower()
    if modality is Modality.IRIS and p:
        return IrisPosition(p).name.lower()
    return modality.value


def record_json(record) -> dict:
    """A resident record as the JSON `biocap record show --json` prints."""
    caps = []
    for c in record.captures:
        q = c.quality or {}
        caps.append({"step": c.step, "modality": c.modality.value, "position": int(c.position),
                     "quality": q.get("score"), "template_stored": bool(c.templates),
                     "templates": sorted(c.templates), "override_reason": c.override_reason,
                     "captured_at": c.captured_at.isoformat()})
    return {"subject": record.subject, "enrollment": record.enrollment.enrollment_id,
            "state": record.enrollment.state, "complete": bool(record.enrollment.complete),
            "policy": record.enrollment.policy,
            "exceptions": [{"step": e.step, "modality": e.modality.value, "position": e.position,
                            "code": e.code, "reason": e.reason} for e in record.exceptions],
            "captures": caps,
            "history": [{"enrollment": h.enrollment_id, "state": h.state,
                         "started_at": h.started_at, "complete": h.complete} for h in record.history]}


def _record_show(args: argparse.Namespace) -> int:
    from ..office import OfficeStore
    if not args.store.exists():
        raise BiocapError(f"no store {args.store}", hint="give the office store file with --store")
    with OfficeStore(args.store, keys=_keys(args), readonly=True) as store:
        data = record_json(store.record(args.subject))
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"{data['subject']}: enrollment {data['enrollment']} ({data['state']}, "
          f"{'complete' if data['complete'] else 'not complete'}), policy {data['policy']}, "
          f"{len(data['history'])} earlier enrollment(s)")
    for c in data["captures"]:
        print(f"  {c['step']:<16} {c['modality']:<11} pos {c['position']:>2}  quality "
              f"{c['quality']!s:>4}  templates {', '.join(c['templates']) or '-'}"
              + (f"  override: {c['override_reason']}" if c["override_reason"] else ""))
    for e in data["exceptions"]:
        print(f"  exception {e['step']}: {e['code']} ({e['reason']})")
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

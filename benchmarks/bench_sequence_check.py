"""Sequence check on planted bad enrollments and on clean ones (templates, no capture path).

    .venv/bin/python benchmarks/bench_sequence_check.py --enrollments 200     # ~20 min, one core

Each enrollment is one synthetic person (the realistic generator, `--persons` people, fresh
impressions every time): the two index fingers captured alone (fitted to the scanner's window as
the simulator does), the three 4-4-2 slaps composed by the simulator's slap composer and cut by
`segment_slap`, every finger extracted and compared by biocap's fingerprint comparator, in the
desk's order (index fingers alone first, then each slap checked against what was accepted), with
`SequenceChecker` exactly as the session runs it. A clean enrollment must raise no finding.
Planted (each clean enrollment gets one, in turn):
- `hands_swapped`: the left hand on the right-four slap and the right hand on the left-four
  (the segmenter names fingertips by their slots, left to right, so the left hand's little ..
  index take the right slap's index .. little names);
- `same_hand_twice`: the right hand again for the left-four slap (its fingertips in the left
  slap's slots);
- `finger_twice`: the right index again for the left index alone;
- `wrong_finger_alone`: the right middle finger for the right index alone.
Every planted enrollment must be flagged. Report: benchmarks/results/sequence_check.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from biocap.matching.fingerprint import FingerprintComparator
from biocap.station.segmentation import segment_slap
from biocap.station.sequence import SequenceChecker
from biocap.templates.fingerprint import FingerprintExtractor
from biocap.types import FingerPosition, Modality, Sample

RESULTS = Path(__file__).with_name("results")
PLANTS = ("hands_swapped", "same_hand_twice", "finger_twice", "wrong_finger_alone")


class Person:
    def __init__(self, source, rng, ext, checker):
        self.source, self.rng, self.ext, self.checker = source, rng, ext, checker

    def single(self, position: int, label: int | None = None):
        from biocap_vendor_sim.sources import fit_to_window, vary_presentation
        s = self.source.next_sample(position, self.rng)
        img = fit_to_window(s.image, s.ppi, 500, (400, 500), 255)
        img = vary_presentation(img, self.rng, background=255)
        sample = Sample(img, 500, Modality.FINGERPRINT, position=FingerPosition(label or position))
        return self.checker.prepare(self.ext.extract(sample))

    def slap(self, hand: int, as_slap: int):
        """Segmented fingers {position: template} of `hand`'s slap presented for `as_slap`."""
        from biocap_vendor_sim.slaps import compose_slap
        image, _ = compose_slap(self.source, hand, self.rng)
        seg = segment_slap(Sample(image, 500, Modality.FINGERPRINT, position=as_slap))
        out = {}
        for f in seg.fingers:
            t = self.ext.extract(f.sample)
            out[f.position] = self.checker.prepare(t)
        return out, list(seg.missing)


def relabel(fingers: dict, old: tuple, new: tuple) -> dict:
    """A slap presented in the wrong place: its fingertips keep their slots (left to right), so
    the segmenter names them by the slots of the slap the desk asked for."""
    return {new[old.index(p)]: t for p, t in fingers.items()}


def run_desk(checker, steps) -> list[dict]:
    """The desk's order, as the session runs it: a finger alone against the fingers alone and
    the slaps before it, a slap against the fingers alone."""
    singles: dict[int, object] = {}
    slaps: list[dict] = []
    findings = []
    for name, fingers, is_slap in steps:
        if is_slap:
            found = checker.check_slap(fingers, singles)
            slaps.append(fingers)
        else:
            found = []
            for p, t in fingers.items():
                found += checker.check_single(p, t, singles, slaps)
            singles.update(fingers)
        findings += [dict(f.to_json(), step=name) for f in found]
    return findings


def scores_of(checker, steps):
    """Scores of the pairs the check compares in a clean enrollment: a finger alone against
    the same position in a slap (genuine) and against the other positions (impostor)."""
    genuine, impostor = [], []
    singles = {p: t for _, f, is_slap in steps if not is_slap for p, t in f.items()}
    for _, fingers, is_slap in steps:
        if not is_slap:
            continue
        for p, r in singles.items():
            for q, t in fingers.items():
                (genuine if p == q else impostor).append(float(checker.comparator.compare(r, t)))
    return genuine, impostor


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enrollments", type=int, default=200)
    ap.add_argument("--persons", type=int, default=10)
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--out", type=Path, default=RESULTS / "sequence_check.json")
    args = ap.parse_args(argv)
    from biocap_vendor_sim.sources_synthetic_fingerprint import RealisticFingerprintSource
    cmp = FingerprintComparator()
    checker = SequenceChecker.from_comparator(cmp)
    ext = FingerprintExtractor()
    rng = np.random.default_rng(args.seed)
    sources = [RealisticFingerprintSource(person=3000 + p, seed=args.seed) for p in range(args.persons)]
    clean_flagged, planted_flagged = [], {p: [] for p in PLANTS}
    genuine, impostor, examples = [], [], []
    t0 = time.time()
    for e in range(args.enrollments):
        person = Person(sources[e % args.persons], rng, ext, checker)
        ri, li = person.single(2), person.single(7)
        right, _ = person.slap(13, 13)
        left, _ = person.slap(14, 14)
        thumbs, _ = person.slap(15, 15)
        clean = [("index-right", {2: ri}, False), ("index-left", {7: li}, False),
                 ("slap-right", right, True), ("slap-left", left, True), ("thumbs", thumbs, True)]
        found = run_desk(checker, clean)
        clean_flagged.append(bool(found))
        if found and len(examples) < 10:
            examples.append({"enrollment": e, "clean": True, "findings": found})
        g, i = scores_of(checker, clean)
        genuine += g
        impostor += i
        plant = PLANTS[e % len(PLANTS)]
        if plant == "hands_swapped":  # each hand's fingertips in the other slap's slots
            steps = clean[:2] + [("slap-right", relabel(left, (10, 9, 8, 7), (2, 3, 4, 5)), True),
                                 ("slap-left", relabel(right, (2, 3, 4, 5), (10, 9, 8, 7)), True),
                                 clean[4]]
        elif plant == "same_hand_twice":  # the right hand again for the left-four slap
            steps = clean[:3] + [("slap-left", relabel(right, (2, 3, 4, 5), (10, 9, 8, 7)), True),
                                 clean[4]]
        elif plant == "finger_twice":  # the right index (a new impression) as the left alone
            steps = [clean[0], ("index-left", {7: person.single(2, label=7)}, False)] + clean[2:]
        else:  # the right middle finger as the right index alone
            steps = [("index-right", {2: person.single(3, label=2)}, False)] + clean[1:]
        found = run_desk(checker, steps)
        planted_flagged[plant].append(bool(found))
        if not found and len(examples) < 10:
            examples.append({"enrollment": e, "planted": plant, "findings": []})
        if (e + 1) % 10 == 0 or e + 1 == args.enrollments:
            print(f"{e + 1} enrollments, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
            write_report(args, e + 1, clean_flagged, planted_flagged, genuine, impostor, checker,
                         examples, t0)
    return 0


def _commit() -> str:
    """The checkout's commit (what code a report came from)."""
    import subprocess
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def write_report(args, done, clean_flagged, planted_flagged, genuine, impostor, checker,
                 examples, t0):
    """The report so far (written every 10 enrollments, so a long run can be read early)."""
    genuine, impostor = np.array(genuine), np.array(impostor)
    report = {
        "command": "benchmarks/bench_sequence_check.py " + " ".join(sys.argv[1:]),
        "code": _commit(), "cpu_s": round(time.process_time(), 1),
        "enrollments_done": done, "enrollments_asked": args.enrollments,
        "persons": args.persons, "seed": args.seed,
        "clean_flagged": int(sum(clean_flagged)),
        "planted": {p: {"n": len(v), "flagged": int(sum(v))} for p, v in planted_flagged.items()},
        "planted_total": int(sum(len(v) for v in planted_flagged.values())),
        "planted_flagged": int(sum(sum(v) for v in planted_flagged.values())),
        "thresholds": {"mismatch": checker.mismatch_threshold,
                       "duplicate": checker.duplicate_threshold,
                       "strong": checker.strong_threshold},
        "scores_clean": {
            "same_position_n": int(len(genuine)),
            "same_position_below_mismatch_threshold": int((genuine < checker.mismatch_threshold).sum()),
            "same_position_p01_p50": [float(np.percentile(genuine, 1)), float(np.median(genuine))],
            "cross_position_n": int(len(impostor)),
            "cross_position_at_or_above_duplicate_threshold": int((impostor >= checker.duplicate_threshold).sum()),
            "cross_position_at_or_above_strong_threshold": int((impostor >= checker.strong_threshold).sum()),
            "cross_position_p99_max": [float(np.percentile(impostor, 99)), float(impostor.max())]},
        "examples": examples, "wall_s": round(time.time() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if done == args.enrollments:
        print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=1))


if __name__ == "__main__":
    sys.exit(main())

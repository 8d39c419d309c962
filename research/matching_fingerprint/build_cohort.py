"""Build the gallery's impostor cohort (package data `biocap/matching/fingerprint/cohort.npz`).

    python -m research.matching_fingerprint.build_cohort [--out PATH] [--check]

The cohort is `N_COHORT` synthetic fingers (one impression each) of biocap's template generator
with its own seed (`COHORT_SEED`, not the benchmark fillers' seed 0). The runtime gallery reads
their minutiae from the .npz and never imports the generator; `--check` rebuilds them and fails
when the shipped file differs (run it after any change to the generator).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from biocap.matching.fingerprint.cohort import (COHORT_FILE, COHORT_FORMAT, COHORT_SEED, N_COHORT,
                                                read_cohort)
from biocap.synthetic.fingerprint.templates import iter_finger_templates


def build(n: int = N_COHORT, seed: int = COHORT_SEED) -> dict[str, np.ndarray]:
    """The arrays of the cohort file: every finger's minutiae back to back, with offsets."""
    templates = [t for _, _, t in iter_finger_templates(n, 1, seed)]
    counts = np.array([len(t.minutiae) for t in templates], np.int64)
    return {
        "format": np.array(COHORT_FORMAT),
        "seed": np.array(seed, np.int64),
        "minutiae": np.concatenate([t.minutiae for t in templates]),
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "size": np.array([[t.width, t.height] for t in templates], np.int64),
        "ppi": np.array([t.ppi for t in templates], np.float64),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=COHORT_FILE)
    ap.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = ap.parse_args(argv)
    arrays = build()
    if args.check:
        shipped = read_cohort(COHORT_FILE)
        fresh = [(t.minutiae.tobytes(), t.width, t.height, t.ppi) for t in _templates(arrays)]
        same = fresh == [(t.minutiae.tobytes(), t.width, t.height, t.ppi) for t in shipped]
        print("cohort file is up to date" if same else "cohort file differs from the generator")
        return 0 if same else 1
    with open(args.out, "wb") as fh:
        np.savez(fh, **arrays)
    print(f"wrote {args.out}: {len(arrays['ppi'])} fingers, {len(arrays['minutiae'])} minutiae")
    return 0


def _templates(arrays):
    import io
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    return read_cohort(buf)


if __name__ == "__main__":
    sys.exit(main())

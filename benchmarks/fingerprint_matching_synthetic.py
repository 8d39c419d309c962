"""Matcher check on synthetic templates (`biocap.synthetic.fingerprint.templates`, statistical
masters): all-impostors EER of LSS-R alone and of LSS-R x the pairing stage, on a full-size and
on a small (DB3-like 300 x 300) sensor. A sanity check that the second stage is not tuned to
FVC2002 only.

    .venv/bin/python benchmarks/fingerprint_matching_synthetic.py [n_fingers] [impressions]
"""
import sys

import numpy as np

from biocap.evaluation.metrics import error_rates
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.matching.fingerprint.pairing import DEFAULT_PAIRING
from biocap.synthetic.fingerprint.templates import iter_finger_templates


def eer(cmp, fingers, templates):
    enc = [cmp.encode(t) for t in templates]
    ok = np.array([e.enrollable for e in enc])
    prep = cmp.prepare_many(enc)
    n = len(enc)
    S = np.stack([cmp.compare_prepared(enc[i], prep, ok) for i in range(n)])
    iu = np.triu_indices(n, 1)
    same = fingers[iu[0]] == fingers[iu[1]]
    return 100 * error_rates(S[iu][same], S[iu][~same]).eer


def main(n_fingers=60, impressions=4):
    for label, (w, h) in (("400x500", (400, 500)), ("300x300", (300, 300))):
        rows = list(iter_finger_templates(n_fingers, impressions, seed=7, width=w, height=h))
        fingers = np.array([r[0] for r in rows])
        templates = [r[2] for r in rows]
        plain = eer(FingerprintComparator(pairing=None), fingers, templates)
        fused = eer(FingerprintComparator(pairing=DEFAULT_PAIRING), fingers, templates)
        print(f"synthetic {label}, {n_fingers} fingers x {impressions}: EER LSS-R {plain:.2f}%, "
              f"LSS-R x pairing {fused:.2f}%", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))

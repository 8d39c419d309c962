"""SET_DISTANCE_LIMIT of quality/signature/params.py from SVC2004 users 1-10 (users 11-20 unread).

Prints set distances of genuine 5-sets (S1-10, 10 random sets per user) and of sets where one
signature is replaced by another user's genuine signature, so the limit and the outlier rule can
be judged.  python research/signature/consistency_limit.py
"""
from __future__ import annotations

import numpy as np

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets_signature import load_svc2004
from biocap.quality.signature import assess_enrolment_set


def main():
    users = load_svc2004(data_path("signature", "svc2004_task2"), users=list(range(1, 11)))
    rng = np.random.default_rng(3)
    genuine, mixed, flagged_g, flagged_m = [], [], 0, 0
    for u, user in enumerate(users):
        for _ in range(10):
            idx = rng.choice(10, 5, replace=False)
            pens = [user.genuine[i] for i in idx]
            r = assess_enrolment_set(pens)
            genuine.append(r.set_distance)
            flagged_g += not r.consistent
            other = users[(u + 1 + rng.integers(len(users) - 1)) % len(users)]
            pens[2] = other.genuine[int(rng.integers(10))]
            r = assess_enrolment_set(pens)
            mixed.append(r.set_distance)
            flagged_m += (2 in r.retake) or not r.consistent
    print("genuine set distance percentiles 50/90/99:", np.percentile(genuine, [50, 90, 99]).round(3))
    print("one-stranger set distance percentiles 50/90/99:", np.percentile(mixed, [50, 90, 99]).round(3))
    print(f"flagged: genuine sets {flagged_g}/{len(genuine)}, one-stranger sets {flagged_m}/{len(mixed)}")


if __name__ == "__main__":
    main()

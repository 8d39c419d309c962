"""`fingerprint-realistic`: the SFinGe-style generator of `biocap.synthetic` as a sample source.

A synthetic person (seeded by `person`) has ten fingers; ISO finger position p is finger id
10 * person + p of the generator, so the same position is always the same finger. Each
presentation is a fresh impression of that finger (placement, elastic distortion, contact,
moisture; FVC2002's conditions drawn at random) rendered by the chosen sensor profile. The true
minutiae of the last presentation are kept in `last_ground_truth` for tests and benchmarks.
"""
from __future__ import annotations

import numpy as np

from biocap.synthetic.fingerprint.distortion import CONDITIONS
from biocap.synthetic.fingerprint.impression import render_impression
from biocap.synthetic.fingerprint.master import render_master
from biocap.synthetic.fingerprint.seeding import check_seed
from biocap.synthetic.fingerprint.sensors import sensor_profile

from .sources import SourceSample, register_source


class RealisticFingerprintSource:
    modality = "fingerprint"

    def __init__(self, person: int = 0, seed: int = 0, sensor: str = "optical",
                 name: str = "fingerprint-realistic"):
        self.name = name
        self.seed = check_seed(seed)
        self.person = check_seed(person)
        self.profile = sensor_profile(sensor)
        self._masters: dict[int, object] = {}  # at most ten: one per finger position
        self.last_ground_truth: dict | None = None

    def _master(self, position: int):
        if position not in self._masters:
            finger_id = 10 * self.person + (position if 1 <= position <= 10 else 1)
            self._masters[position] = render_master(self.seed, finger_id)
        return self._masters[position]

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        position = int(position)
        if not 0 <= position <= 10:
            raise ValueError(f"finger position {position} is not an ISO code 0..10")
        master = self._master(position)
        condition = CONDITIONS[int(rng.integers(len(CONDITIONS)))]
        imp = render_impression(master, self.profile, rng, condition)
        self.last_ground_truth = imp.ground_truth()
        return SourceSample(image=imp.image, ppi=imp.ppi,
                            label=f"synthetic person {self.person} position {position} "
                                  f"({imp.finger_class}, {condition}, {self.profile.name})")


register_source("fingerprint-realistic", RealisticFingerprintSource)

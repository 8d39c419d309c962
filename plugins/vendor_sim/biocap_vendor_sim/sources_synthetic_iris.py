"""`iris-realistic`: the synthetic NIR eye generator of `biocap.synthetic.iris` as a source.

A synthetic person (seeded by `person`) has two eyes; iris position p (1 right, 2 left; 0 taken
as right) is eye identity 2 * person + p - 1 of the generator, so the same position is always the
same eye. Each presentation is a fresh capture of that eye (dilation, rotation, position,
illumination, focus, noise, lids, lashes, highlights drawn by `random_capture`). The ground truth
of the last presentation (circles, lids, capture parameters) is kept in `last_ground_truth`.
"""
from __future__ import annotations

import numpy as np

from biocap.synthetic.iris.eye import IrisIdentity, random_capture, render_eye

from .sources import SourceSample, register_source


class RealisticIrisSource:
    modality = "iris"
    ppi = 420  # the simulated IR-2 camera's resolution

    def __init__(self, person: int = 0, seed: int = 0, name: str = "iris-realistic"):
        if int(person) < 0 or int(seed) < 0:
            raise ValueError("person and seed are non-negative integers")
        self.name = name
        self.person, self.seed = int(person), int(seed)
        self._eyes: dict[int, IrisIdentity] = {}
        self.last_ground_truth: dict | None = None

    def _eye(self, position: int) -> IrisIdentity:
        if position not in self._eyes:
            self._eyes[position] = IrisIdentity(self.seed * 1_000_003 + 2 * self.person + position - 1)
        return self._eyes[position]

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        position = int(position) or 1
        if position not in (1, 2):
            raise ValueError(f"iris position {position} is not 1 (right) or 2 (left)")
        image, truth = render_eye(self._eye(position), random_capture(rng),
                                  seed=int(rng.integers(2 ** 31)))
        self.last_ground_truth = truth.to_json()
        side = "right" if position == 1 else "left"
        return SourceSample(image=image, ppi=self.ppi,
                            label=f"synthetic person {self.person} {side} eye")


register_source("iris-realistic", RealisticIrisSource)

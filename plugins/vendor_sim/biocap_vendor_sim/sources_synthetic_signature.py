"""`signature-realistic`: the pad's pen series from biocap's signature generator.

Each position is one signer (the pad has only position 0 in the demo: one resident); every
presentation is a new genuine signature of that signer, so enrolment sets vary as a person's
signatures do and verify against each other. Ground truth in the label.
"""
from __future__ import annotations

import numpy as np

from biocap.synthetic.signature import genuine, make_signer

from .sources import PenData, SourceSample, register_source


class RealisticSignatureSource:
    name = "signature-realistic"
    modality = "signature"

    def __init__(self, person: int = 0, seed: int = 0):
        self.person, self.seed = int(person), int(seed)

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        signer = make_signer(self.seed * 1000 + self.person * 16 + int(position))
        pen = genuine(signer, rng).pen
        return SourceSample(None, 0, pen=PenData(
            x=pen.x.astype(np.int64), y=pen.y.astype(np.int64),
            pressure=pen.pressure.astype(np.int64), t_ms=pen.t_ms.astype(np.int64),
            pen_down=pen.pen_down.astype(np.uint8)),
            label=f"synthetic signer {signer.id} (genuine)")


register_source("signature-realistic", RealisticSignatureSource)

"""Built-in simple synthetic generators, one per modality, for when the research data is absent.

Deliberately simple (realism is the job of dedicated generators such as a
`sources_synthetic_fingerprint.py`): each draws the identity (finger, eye, face, signature shape)
from a fixed seed per position, so the same position always looks like the same trait, and the
per-presentation variation from the caller's `rng`.
"""
from __future__ import annotations

import cv2
import numpy as np

from .sources import PenData, SourceSample, register_source


def _identity_rng(kind: str, position: int) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, kind)), int(position)])


class SimpleFingerprint:
    """A loop-like ridge pattern (9-pixel period at 500 ppi) inside an elliptic contact area."""

    name = "fingerprint-synthetic"
    modality = "fingerprint"
    ppi = 500

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        ident = _identity_rng("fingerprint", position)
        h, w = 380, 300
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * ident.uniform(0.4, 0.6), h * ident.uniform(0.35, 0.55)
        dx, dy = xx - cx, (yy - cy) * ident.uniform(1.1, 1.5)
        theta = np.arctan2(dy, dx)
        radius = np.hypot(dx, dy)
        warp = sum(ident.uniform(2, 6) * np.sin(k * theta + ident.uniform(0, 6.28)) for k in (1, 2, 3))
        period = ident.uniform(8.5, 10.0)
        ridges = np.cos(2 * np.pi * (radius + warp) / period)
        ellipse = ((xx - w / 2) / (w * 0.45)) ** 2 + ((yy - h / 2) / (h * 0.47)) ** 2
        contact = np.clip((1.0 - ellipse) * 6, 0, 1)
        noise = rng.normal(0, 0.15, (h, w)).astype(np.float32)
        value = 255 - contact * (100 + 80 * (ridges + noise))
        image = np.clip(value, 0, 255).astype(np.uint8)
        return SourceSample(image, self.ppi, label=f"synthetic finger {position}")


class SimpleIris:
    """An eye: sclera, a textured iris annulus (radial streaks), a dark pupil, a specular dot."""

    name = "iris-synthetic"
    modality = "iris"
    ppi = 420

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        ident = _identity_rng("iris", position)
        h, w = 280, 320
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w / 2, h / 2
        r = np.hypot(xx - cx, yy - cy)
        theta = np.arctan2(yy - cy, xx - cx)
        r_iris, r_pupil = 100.0, 100.0 * ident.uniform(0.3, 0.45) * rng.uniform(0.95, 1.05)
        texture = sum(ident.uniform(5, 15) * np.cos(k * theta + ident.uniform(0, 6.28)
                                                  + ident.uniform(0, 0.1) * r)
                      for k in ident.integers(8, 60, 6))
        image = np.full((h, w), 170, np.float32)  # skin
        sclera = (((xx - cx) / 150) ** 2 + ((yy - cy) / 95) ** 2) < 1
        image[sclera] = 205
        iris = r < r_iris
        image[iris] = 110 + texture[iris]
        image[r < r_pupil] = 25
        sx, sy = cx + ident.uniform(-10, 10), cy - r_pupil * 0.5
        image[np.hypot(xx - sx, yy - sy) < 4] = 250
        image += rng.normal(0, 3, (h, w)).astype(np.float32)
        return SourceSample(np.clip(image, 0, 255).astype(np.uint8), self.ppi,
                            label=f"synthetic eye {position}")


class SimpleFace:
    """A frontal face drawn with ellipses: head, eyes, eyebrows, nose, mouth."""

    name = "face-synthetic"
    modality = "face"
    ppi = 100

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        ident = _identity_rng("face", 0)
        size = 160
        image = np.full((size, size), 70, np.uint8)
        c = size // 2
        head = (int(size * ident.uniform(0.28, 0.33)), int(size * ident.uniform(0.36, 0.42)))
        cv2.ellipse(image, (c, c), head, 0, 0, 360, int(ident.integers(150, 200)), -1)
        eye_dx, eye_y = int(head[0] * 0.42), c - int(head[1] * 0.15)
        for sign in (-1, 1):
            cv2.ellipse(image, (c + sign * eye_dx, eye_y), (9, 5), 0, 0, 360, 40, -1)
            cv2.ellipse(image, (c + sign * eye_dx, eye_y - 12), (12, 3), 0, 0, 360, 60, -1)
        cv2.line(image, (c, eye_y + 5), (c, c + int(head[1] * 0.25)), 110, 3)
        cv2.ellipse(image, (c, c + int(head[1] * 0.5)), (int(head[0] * 0.4), 6), 0, 0, 360, 80, -1)
        noise = rng.normal(0, 4, image.shape)
        return SourceSample(np.clip(image + noise, 0, 255).astype(np.uint8), self.ppi,
                            label="synthetic face")


class SimpleSignature:
    """A handwriting-like trajectory: a sum of sinusoids with two pen lifts, at 100 Hz."""

    name = "signature-synthetic"
    modality = "signature"

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        ident = _identity_rng("signature", 0)
        n = int(ident.integers(180, 260) * rng.uniform(0.9, 1.1))
        t = np.linspace(0, 1, n)
        warp = t + rng.uniform(-0.02, 0.02) * np.sin(2 * np.pi * t)
        x = 6000 * warp + sum(ident.uniform(100, 400) * np.sin(2 * np.pi * ident.uniform(3, 9) * warp
                                                           + ident.uniform(0, 6.28)) for _ in range(3))
        y = 2000 + sum(ident.uniform(300, 800) * np.sin(2 * np.pi * ident.uniform(2, 7) * warp
                                                    + ident.uniform(0, 6.28)) for _ in range(3))
        x = x * rng.uniform(0.95, 1.05) + rng.normal(0, 8, n)
        y = y * rng.uniform(0.95, 1.05) + rng.normal(0, 8, n)
        pen_down = np.ones(n, np.uint8)
        for lift in ident.uniform(0.3, 0.8, 2):
            i = int(lift * n)
            pen_down[i:i + 4] = 0
        pressure = np.where(pen_down == 1, 400 + 300 * np.sin(np.pi * t) + rng.normal(0, 20, n), 0)
        return SourceSample(None, 0, pen=PenData(
            x=x.astype(np.int64), y=y.astype(np.int64), pressure=np.clip(pressure, 0, 1023).astype(np.int64),
            t_ms=np.arange(n, dtype=np.int64) * 10, pen_down=pen_down), label="synthetic signature")


register_source("fingerprint-synthetic", SimpleFingerprint)
register_source("iris-synthetic", SimpleIris)
register_source("face-synthetic", SimpleFace)
register_source("signature-synthetic", SimpleSignature)

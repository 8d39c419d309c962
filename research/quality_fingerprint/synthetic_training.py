"""Synthetic training prints for the fingerprint quality model: impressions from biocap's
SFinGe-style generator (`biocap.synthetic.fingerprint`) rendered through randomly varied sensor
profiles, some of them degraded further (`biocap.synthetic.fingerprint.degrade`).

Why: the model learns NFIQ 2's ranking from images labelled by NFIQ 2. With the four FVC sets
alone it sees three or four sensors, and what it learns about one sensor's grey levels, contrast
and ridge widths does not carry over to the next (leave-one-set-out). Prints from many made-up
sensors (background and ridge levels, noise, blur, skin moisture, contact area, image size) make
the sensor a nuisance the model has to see past. Everything is drawn from one seed: the same
seed gives the same images, and each image's key names its parameters (for the NFIQ 2 cache).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from biocap.imaging import to_working_resolution
from biocap.synthetic.fingerprint.degrade import random_degradation

BASE_PROFILES = ("optical", "capacitive", "thermal")
CONDITIONS = ("normal", "displaced", "dry", "wet")
IMPRESSIONS_PER_MASTER = 6
DEGRADED_SHARE = 0.3


def _random_profile(rng: np.random.Generator):
    """A sensor profile near one of the generator's three, with every rendering parameter
    drawn within a plausible range."""
    from biocap.synthetic.fingerprint.sensors import sensor_profile

    base = sensor_profile(str(rng.choice(BASE_PROFILES)))
    bg_lo = float(rng.uniform(90, 235))
    bg = (bg_lo, min(255.0, bg_lo + float(rng.uniform(10, 35))))
    # ridges at least 50 grey levels darker than the platen: below that even NFIQ 2 mostly
    # refuses the image, and such prints are covered by the low-contrast degradation
    ridge_lo = float(rng.uniform(0, min(80.0, bg_lo - 70)))
    ridge = (ridge_lo, min(ridge_lo + float(rng.uniform(20, 70)), bg_lo - 50))
    noise_lo = float(rng.uniform(1, 9))
    return dataclasses.replace(
        base,
        name=f"{base.name}-v",
        width=int(rng.integers(240, 420)) // 4 * 4, height=int(rng.integers(280, 520)) // 4 * 4,
        background=bg, ridge_level=ridge,
        noise_sigma=(noise_lo, noise_lo + float(rng.uniform(1, 6))),
        blur_sigma=float(rng.uniform(0.4, 1.5)), moisture_bias=float(rng.uniform(-0.5, 0.5)),
        contact=float(rng.uniform(0.7, 1.15)), texture=float(rng.uniform(1, 12)),
        column_gain=float(rng.choice([0.0, rng.uniform(0, 0.08)])))


def synthetic_images(n_masters: int, seed: int):
    """Yield (key, image at 500 ppi) for `n_masters` x IMPRESSIONS_PER_MASTER synthetic prints."""
    from biocap.synthetic.fingerprint.impression import render_impression
    from biocap.synthetic.fingerprint.master import render_master

    rng = np.random.default_rng(seed)
    for m in range(n_masters):
        master = render_master(seed, m + 1)
        for k in range(IMPRESSIONS_PER_MASTER):
            profile = _random_profile(rng)
            condition = str(rng.choice(CONDITIONS))
            impression = render_impression(master, profile, rng, condition)
            image = to_working_resolution(impression.image, profile.ppi)
            key = (f"synthetic/{seed}/{m + 1}_{k + 1}:{condition}:"
                   + ",".join(f"{f.name}={getattr(profile, f.name)}"
                              for f in dataclasses.fields(profile) if f.name != "name"))
            if rng.random() < DEGRADED_SHARE:
                name, kwargs, image = random_degradation(image, rng)
                key += f"#{name}(" + ",".join(f"{a}={v}" for a, v in sorted(kwargs.items())) + ")"
            yield key, image

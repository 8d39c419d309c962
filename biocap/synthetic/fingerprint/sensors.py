"""Sensor profiles: image size, resolution and how each technology renders skin.

Figures are chosen to resemble public sets: optical ~ FVC2002 DB1/DB2 (bright background, dark
ridges, some smudge), capacitive ~ FVC2002 DB3 (small area, grey, noisy, dry-skin breaks),
thermal sweep ~ FVC2004 DB3 (narrow strip scanned while the finger moves: uneven speed stretches
rows, per-row gain stripes).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidDataError


@dataclass(frozen=True)
class SensorProfile:
    name: str
    width: int
    height: int
    ppi: float
    background: tuple[float, float]  # grey level range of the empty platen
    ridge_level: tuple[float, float]  # grey level range of fully inked ridges
    noise_sigma: tuple[float, float]  # additive sensor noise (grey levels)
    blur_sigma: float  # optics / pixel spread, in output pixels
    moisture_bias: float  # < 0 drier skin typical, > 0 wetter
    contact: float  # scale of the contact area
    sweep: bool = False  # thermal sweep: uneven speed and row stripes
    texture: float = 6.0  # low-frequency background texture amplitude
    column_gain: float = 0.0  # per-column gain spread (capacitive arrays read out by column)


SENSORS = {
    "optical": SensorProfile("optical", 400, 500, 500.0, (222, 252), (5, 60), (2, 6), 0.6,
                             0.1, 1.0, texture=2.5),
    "capacitive": SensorProfile("capacitive", 300, 300, 500.0, (120, 175), (0, 45), (4, 11),
                                0.6, -0.25, 1.0, texture=10.0, column_gain=0.05),
    "thermal": SensorProfile("thermal", 300, 480, 512.0, (140, 200), (30, 90), (5, 10), 0.9,
                             0.0, 1.0, sweep=True, texture=8.0),
}


def sensor_profile(name: str) -> SensorProfile:
    try:
        return SENSORS[name]
    except KeyError:
        raise InvalidDataError(f"unknown sensor {name!r}; choose one of {', '.join(SENSORS)}")

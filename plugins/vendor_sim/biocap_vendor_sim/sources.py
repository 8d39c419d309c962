"""Where the simulated sensors get what the subject presents: sample sources and their registry.

The interface (all a new source needs)
--------------------------------------
A *source* is any object with

    name: str           unique, e.g. "fingerprint-data", "fingerprint-synthetic"
    modality: str       "fingerprint" | "iris" | "face" | "signature"
    next_sample(position: int, rng: numpy.random.Generator) -> SourceSample

`next_sample` returns what one presentation of `position` looks like *before* the sensor: a
2-D uint8 image with its resolution in ppi (any size; the firmware resamples it to the sensor's
resolution and places it in the sensor window), and for signatures a pen series instead (the pad
renders it). `position` is a single ISO/IEC 19794-4 finger code (1-10; 0 = unknown) for
fingerprints (the scanner asks once per finger of a slap), 1/2 (right/left) for irises, 0 for
face and signature. The same position must give the same identity every time (the same finger, the
same eye); the presentation may vary. Use only `rng` for randomness, so a seed reproduces a run.
Dark ridges on a light background for fingerprints (as an optical sensor sees them).

Registering a source: in a module of this package named `sources_<something>.py`, call

    register_source("fingerprint-realistic", factory)

at import time, where `factory(**options) -> source` (options come from code; none are passed by
default). Every `sources_*.py` module of this package is imported when the registry is first
used, so a new file is all it takes. A module that fails to import is logged and skipped.

Choosing a source: `make_source(name)`, or per modality with `BIOCAP_SIM_SOURCES`, e.g.
`BIOCAP_SIM_SOURCES="fingerprint=fingerprint-synthetic;iris=iris-data"`; the default is the
`<modality>-data` source when the shared research data is present, else `<modality>-realistic`
where one is registered, else `<modality>-synthetic`.

After the source, the firmware varies each presentation (a small shift, rotation and contrast
change, see `vary_presentation`) so no two captures are identical.
"""
from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import cv2
import numpy as np

log = logging.getLogger("biocap_vendor_sim.sources")

MODALITIES = ("fingerprint", "iris", "face", "signature")
ENV_SOURCES = "BIOCAP_SIM_SOURCES"


@dataclass
class PenData:
    """A pen time series in pad units (x, y integer positions; pressure 0-1023; t in ms)."""

    x: np.ndarray
    y: np.ndarray
    pressure: np.ndarray
    t_ms: np.ndarray
    pen_down: np.ndarray

    def __post_init__(self):
        n = len(self.x)
        if n == 0 or any(len(a) != n for a in (self.y, self.pressure, self.t_ms, self.pen_down)):
            raise ValueError("pen data columns must be non-empty and of equal length")


@dataclass
class SourceSample:
    image: np.ndarray | None  # 2-D uint8 (None for a pen-only source)
    ppi: float
    pen: PenData | None = None
    label: str = ""  # where it came from, e.g. "fvc2002_db1_b/102_3.tif" (goes into metadata)


@runtime_checkable
class SampleSource(Protocol):
    name: str
    modality: str

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample: ...


_FACTORIES: dict[str, Callable[..., Any]] = {}
_discovered = False


def register_source(name: str, factory: Callable[..., Any]) -> None:
    if not name or not isinstance(name, str):
        raise ValueError("a source needs a non-empty name")
    _FACTORIES[name] = factory


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("sources_"):
            try:
                importlib.import_module(f"{__package__}.{info.name}")
            except Exception as exc:  # one broken source must not take the simulator down
                log.warning("sample source module %s failed to import: %s", info.name, exc)


def available_sources() -> list[str]:
    _discover()
    return sorted(_FACTORIES)


def make_source(name: str, **options: Any) -> SampleSource:
    _discover()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"no sample source {name!r}; known: {', '.join(available_sources())}") from None
    source = factory(**options)
    if not isinstance(source, SampleSource):
        raise TypeError(f"source factory {name!r} returned {type(source).__name__}, "
                        "which lacks name/modality/next_sample")
    return source


def env_source_names() -> dict[str, str]:
    """`BIOCAP_SIM_SOURCES="fingerprint=fingerprint-synthetic;..."` as {modality: source name}."""
    chosen: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in os.environ.get(ENV_SOURCES, "").split(";"))):
        modality, _, name = part.partition("=")
        if modality.strip() not in MODALITIES or not name.strip():
            raise ValueError(f"{ENV_SOURCES}: cannot read {part!r} (expected modality=source-name)")
        chosen[modality.strip()] = name.strip()
    return chosen


def default_source(modality: str) -> SampleSource:
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}")
    name = env_source_names().get(modality)
    if name:
        return make_source(name)
    _discover()
    data_name = f"{modality}-data"
    if data_name in _FACTORIES:
        try:
            return make_source(data_name)
        except FileNotFoundError as exc:
            log.info("%s unavailable (%s); using a synthetic generator", data_name, exc)
    # the realistic generator, where a modality has one, makes fingers a matcher can tell apart
    realistic = f"{modality}-realistic"
    return make_source(realistic if realistic in _FACTORIES else f"{modality}-synthetic")


# --- what the sensor does to every presentation ----------------------------------------------------
def vary_presentation(image: np.ndarray, rng: np.random.Generator, *, background: int,
                      max_shift: float = 0.04, max_angle_deg: float = 6.0,
                      contrast: tuple[float, float] = (0.85, 1.1),
                      border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """A small random shift (fraction of the side), rotation and contrast change. `border`:
    BORDER_CONSTANT fills with `background` (a sensor's empty glass); BORDER_REPLICATE suits a
    camera, whose scene continues past the frame."""
    h, w = image.shape
    angle = rng.uniform(-max_angle_deg, max_angle_deg)
    dx, dy = rng.uniform(-max_shift, max_shift, 2) * (w, h)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += (dx, dy)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=border, borderValue=int(background))
    gain = rng.uniform(*contrast)
    out = (out.astype(np.float32) - background) * gain + background
    return np.clip(out, 0, 255).astype(np.uint8)


def fit_to_window(image: np.ndarray, src_ppi: float, dst_ppi: float, size: tuple[int, int],
                  background: int) -> np.ndarray:
    """Resample `image` from `src_ppi` to `dst_ppi` and centre it in a (width, height) window."""
    w, h = size
    if abs(src_ppi - dst_ppi) > 0.5:
        scale = dst_ppi / src_ppi
        image = cv2.resize(image, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ih, iw = image.shape
    out = np.full((h, w), background, np.uint8)
    # crop the centre when larger, pad when smaller
    sy, sx = max(0, (ih - h) // 2), max(0, (iw - w) // 2)
    crop = image[sy:sy + h, sx:sx + w]
    oy, ox = (h - crop.shape[0]) // 2, (w - crop.shape[1]) // 2
    out[oy:oy + crop.shape[0], ox:ox + crop.shape[1]] = crop
    return out

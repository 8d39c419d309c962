"""Writing a synthetic fingerprint dataset to disk in the FVC layout, in parallel.

`<finger>_<impression>.png` (finger ids from 1) with `<finger>_<impression>.json` beside each
(its ground truth: minutiae, singular points, resolution), and `dataset.json` with the resolution
and the parameters. Every finger depends only on (seed, finger id), so any split of the fingers
over processes writes the same bytes.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2

from ...errors import InvalidDataError
from .distortion import impression_condition
from .impression import Impression, render_impression
from .master import render_master
from .seeding import check_seed, stream
from .sensors import SensorProfile, sensor_profile

GENERATOR_VERSION = "biocap-sfinge-1"
MAX_FINGERS = 10_000_000
MAX_IMPRESSIONS = 1000


def impressions_of_finger(seed: int, finger_id: int, impressions: int,
                          profile: SensorProfile):
    """Yield (impression number, Impression) for one finger (its master is rendered once)."""
    master = render_master(seed, finger_id)
    for k in range(1, impressions + 1):
        rng = stream(seed, finger_id, k, "impression-" + profile.name)
        yield k, render_impression(master, profile, rng, impression_condition(k))


def _png_bytes(image) -> bytes:
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 array
        raise InvalidDataError("PNG encoding failed")
    return buf.tobytes()


def _gt_json(finger_id: int, k: int, imp: Impression, sensor: str) -> str:
    doc = {"finger": finger_id, "impression": k, "sensor": sensor,
           "position": (finger_id - 1) % 10 + 1, **imp.ground_truth()}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


@dataclass
class _Job:
    out: str
    seed: int
    fingers: tuple[int, ...]
    impressions: int
    sensor: str
    templates_format: str | None = None
    masters: str = "statistical"


def _run_images(job: _Job) -> tuple[int, float]:
    t0 = time.process_time()
    profile = sensor_profile(job.sensor)
    out = Path(job.out)
    n = 0
    for f in job.fingers:
        for k, imp in impressions_of_finger(job.seed, f, job.impressions, profile):
            (out / f"{f}_{k}.png").write_bytes(_png_bytes(imp.image))
            (out / f"{f}_{k}.json").write_text(_gt_json(f, k, imp, job.sensor))
            n += 1
    return n, time.process_time() - t0


def _run_templates(job: _Job) -> tuple[int, float]:
    from .templates import iter_finger_templates
    encode, record_cls = load_codecs()
    t0 = time.process_time()
    profile = sensor_profile(job.sensor)
    out = Path(job.out)
    n = 0
    # fingers of a job are consecutive
    start, count = job.fingers[0], len(job.fingers)
    for f, k, t in iter_finger_templates(count, job.impressions, job.seed, profile.ppi,
                                         profile.width, profile.height, start=start,
                                         masters=job.masters):
        record = record_cls.from_templates([t], format=job.templates_format)
        (out / f"{f}_{k}.{template_suffix(job.templates_format)}").write_bytes(
            encode(record, job.templates_format))
        n += 1
    return n, time.process_time() - t0


def load_codecs():
    """(encode, FingerprintRecord) from biocap's template codecs, imported only when needed."""
    from ...templates.formats import encode
    from ...templates.formats.record import FingerprintRecord

    return encode, FingerprintRecord


def template_suffix(fmt: str) -> str:
    """The file suffix of a template format's records (ist or ansi)."""
    return "ist" if fmt.startswith("iso") else "ansi"


@dataclass
class GenerationReport:
    out: Path
    files: int
    impressions: int
    wall_seconds: float
    cpu_seconds: float  # time the workers spent generating, summed
    workers: int

    @property
    def impressions_per_second_per_core(self) -> float:
        return self.impressions / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    def to_json(self) -> dict:
        """A JSON-ready dict of the report."""
        return {"out": str(self.out), "impressions": self.impressions, "workers": self.workers,
                "wall_seconds": round(self.wall_seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 3),
                "impressions_per_second": round(self.impressions / max(self.wall_seconds, 1e-9),
                                                2),
                "impressions_per_second_per_core": round(self.impressions_per_second_per_core,
                                                         2)}


def _check_int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidDataError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
    return v


def generate_dataset(out: str | Path, fingers: int, impressions: int, seed: int, *,
                     sensor: str = "optical", workers: int = 1,
                     templates_format: str | None = None,
                     masters: str = "statistical") -> GenerationReport:
    """Write `fingers` x `impressions` images (or template records) into `out`; `masters`
    chooses where template-only fingers come from (see `iter_finger_templates`)."""
    if masters not in ("statistical", "rendered"):
        raise InvalidDataError(f"masters must be 'statistical' or 'rendered', got {masters!r}")
    _check_int("fingers", fingers, 1, MAX_FINGERS)
    _check_int("impressions", impressions, 1, MAX_IMPRESSIONS)
    _check_int("workers", workers, 1, 256)
    seed = check_seed(seed)
    profile = sensor_profile(sensor)
    if templates_format is not None:
        encode, _ = load_codecs()
        from ...templates.formats import FORMATS
        if templates_format not in FORMATS:
            raise InvalidDataError(f"unknown template format {templates_format!r}; choose one "
                                   f"of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidDataError(f"{out} exists and is not a directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"generator": GENERATOR_VERSION, "modality": "fingerprint", "seed": seed,
            "fingers": fingers, "impressions": impressions, "sensor": profile.name,
            "ppi": profile.ppi, "width": profile.width, "height": profile.height,
            "layout": "fvc: <finger>_<impression>.png (+ .json ground truth), fingers from 1",
            "conditions": "FVC2002 protocol: impressions 1-2 normal, 3-4 displaced/rotated, "
                          "5-6 dry, 7-8 wet, repeating",
            "templates_format": templates_format,
            "template_masters": masters if templates_format else None}
    (out / "dataset.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    # chunks of consecutive fingers; small enough to balance the workers
    per = max(1, min(256 if templates_format else 4, fingers // (workers * 4) or 1))
    jobs = [_Job(str(out), seed, tuple(range(s, min(s + per, fingers + 1))), impressions,
                 profile.name, templates_format, masters)
            for s in range(1, fingers + 1, per)]
    run = _run_templates if templates_format else _run_images
    t0 = time.perf_counter()
    if workers == 1:
        results = [run(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, jobs))
    wall = time.perf_counter() - t0
    n = sum(r[0] for r in results)
    cpu = sum(r[1] for r in results)
    files = n * (1 if templates_format else 2) + 1
    return GenerationReport(out, files, n, wall, cpu, workers)


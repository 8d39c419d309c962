"""Sample sources over the shared research data (`biocap.evaluation.data`; never copied here).

One simulated subject per source: position p always gives the same finger / eye / person, and
each presentation picks another impression of it at random (the firmware adds shift, rotation and
contrast). A missing data folder raises FileNotFoundError from the factory, so the registry falls
back to the synthetic generator.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from biocap.evaluation.data import data_path

from .sources import PenData, SourceSample, register_source

#: resolution of each FVC 2002 B set (the TIFF tags are meaningless)
FVC_PPI = {"fvc2002_db1_b": 500, "fvc2002_db2_b": 569, "fvc2002_db3_b": 500, "fvc2002_db4_b": 500}
IRIS_PPI = 420  # CASIA-IrisV1: ~200 px across a ~12 mm iris


@lru_cache(maxsize=512)
def _read_grey(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    image.setflags(write=False)
    return image


def _require(folder: Path, pattern: str) -> list[Path]:
    files = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no {pattern} files in {folder}")
    return files


class FingerprintDataSource:
    """FVC 2002 B set: finger 101..110 stands for positions 1..10 of one subject."""

    modality = "fingerprint"

    def __init__(self, dataset: str = "fvc2002_db1_b"):
        if dataset not in FVC_PPI:
            raise ValueError(f"unknown FVC set {dataset!r}; choose one of {sorted(FVC_PPI)}")
        self.name = "fingerprint-data"
        self.dataset = dataset
        self.ppi = FVC_PPI[dataset]
        self.files = _require(data_path("fingerprint", dataset), "*.tif")

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        finger = 100 + (position if 1 <= position <= 10 else int(rng.integers(1, 11)))
        choices = [f for f in self.files if f.name.startswith(f"{finger}_")] or self.files
        path = choices[int(rng.integers(len(choices)))]
        return SourceSample(_read_grey(str(path)), self.ppi, label=f"{self.dataset}/{path.name}")


class IrisDataSource:
    """CASIA-IrisV1: eye folder 1 is the subject's right eye, folder 2 the left."""

    modality = "iris"

    def __init__(self):
        self.name = "iris-data"
        root = data_path("iris", "casia_irisv1")
        self.eyes = {1: _require(root / "1", "*.jpg"), 2: _require(root / "2", "*.jpg")}

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        files = self.eyes[2 if position == 2 else 1]
        path = files[int(rng.integers(len(files)))]
        return SourceSample(_read_grey(str(path)), IRIS_PPI, label=f"casia_irisv1/{path.parent.name}/{path.name}")


class FaceDataSource:
    """LFW (125x125 tight crops): one person, a random image of them per presentation."""

    modality = "face"

    def __init__(self, person: str | None = None):
        self.name = "face-data"
        root = data_path("face", "lfw7x50")
        people = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if not people:
            raise FileNotFoundError(f"no LFW people in {root}")
        folder = root / person if person else people[0]
        self.files = _require(folder, "*.jpg")

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        path = self.files[int(rng.integers(len(self.files)))]
        return SourceSample(_read_grey(str(path)), 100, label=f"lfw7x50/{path.parent.name}/{path.name}")


def read_svc2004(path: Path) -> PenData:
    """An SVC2004 task-2 file: count, then `x y t pen-down azimuth altitude pressure` rows."""
    rows = np.loadtxt(path, skiprows=1, dtype=np.int64, ndmin=2)
    if rows.shape[1] < 7 or len(rows) == 0:
        raise ValueError(f"{path} is not an SVC2004 task-2 file")
    return PenData(x=rows[:, 0], y=rows[:, 1], t_ms=rows[:, 2] - rows[0, 2],
                   pen_down=rows[:, 3].astype(np.uint8), pressure=rows[:, 6])


class SignatureDataSource:
    """SVC2004 task 2, user 1: a random genuine signature (S1-S20) per presentation."""

    modality = "signature"

    def __init__(self, user: int = 1):
        self.name = "signature-data"
        root = data_path("signature", "svc2004_task2")
        self.files = [root / f"U{user}S{s}.TXT" for s in range(1, 21)]
        self.files = [f for f in self.files if f.is_file()]
        if not self.files:
            raise FileNotFoundError(f"no genuine signatures of user {user} in {root}")

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        path = self.files[int(rng.integers(len(self.files)))]
        return SourceSample(None, 0, pen=_cached_pen(str(path)), label=f"svc2004_task2/{path.name}")


@lru_cache(maxsize=64)
def _cached_pen(path: str) -> PenData:
    return read_svc2004(Path(path))


register_source("fingerprint-data", FingerprintDataSource)
register_source("iris-data", IrisDataSource)
register_source("face-data", FaceDataSource)
register_source("signature-data", SignatureDataSource)


class ImageFolderSource:
    """Any folder of images (png, jpg, tif, bmp), e.g. a site's own test set:
    `make_source("image-folder", modality="fingerprint", path="/data/prints", ppi=500)`.
    Sub-folders, if any, are identities: position p uses the p-th sub-folder (wrapping round)."""

    EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm"}

    def __init__(self, modality: str, path: str | Path, ppi: float):
        if modality not in ("fingerprint", "iris", "face"):
            raise ValueError(f"image folders serve fingerprint, iris or face, not {modality!r}")
        if not 50 <= float(ppi) <= 5000:
            raise ValueError(f"ppi {ppi} is not plausible (50-5000)")
        self.name, self.modality, self.ppi = "image-folder", modality, float(ppi)
        root = Path(path)
        files = [f for f in sorted(root.rglob("*")) if f.suffix.lower() in self.EXTENSIONS]
        if not files:
            raise FileNotFoundError(f"no images in {root}")
        groups: dict[Path, list[Path]] = {}
        for f in files:
            groups.setdefault(f.parent, []).append(f)
        self.groups = [groups[k] for k in sorted(groups)]

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        files = self.groups[int(position) % len(self.groups)]
        path = files[int(rng.integers(len(files)))]
        return SourceSample(_read_grey(str(path)), self.ppi, label=path.name)


register_source("image-folder", ImageFolderSource)

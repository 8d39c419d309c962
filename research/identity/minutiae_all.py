"""Minutiae of every image of the four FVC2002 B sets, hashed per image (the extractor-parameter
identity check; run from outside the checkout so that PYTHONPATH picks the tree, see README.md)."""
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2

from biocap.templates.fingerprint import FingerprintExtractor
from biocap.types import Modality, Sample

DATA = Path(os.environ.get("BIOCAP_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ext = FingerprintExtractor()
out = {}
for db in ("fvc2002_db1_b", "fvc2002_db2_b", "fvc2002_db3_b", "fvc2002_db4_b"):
    for f in sorted((DATA / "fingerprint" / db).glob("*.tif")):
        t = ext.extract(Sample(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), 569 if "db2" in db else 500,
                               Modality.FINGERPRINT))
        out[f"{db}/{f.name}"] = (hashlib.sha256(t.to_bytes()).hexdigest()[:20]
                                 + f" n={len(t.minutiae)}")
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print(f"{len(out)} images -> {sys.argv[1]}")

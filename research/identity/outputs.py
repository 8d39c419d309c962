"""Reference outputs for the restructure identity check. Uses only names that stay importable."""
import hashlib
import json
import os
import sys
from pathlib import Path
import cv2

from biocap.types import Sample, Modality
from biocap.templates.fingerprint import FingerprintExtractor
from biocap.quality.fingerprint import FingerprintQuality
from biocap.matching.fingerprint import FingerprintComparator
from biocap.templates.iris import IrisExtractor
from biocap.matching.iris import IrisComparator

out = {}
DATA = Path(os.environ.get("BIOCAP_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ext, qual, cmp_ = FingerprintExtractor(), FingerprintQuality(), FingerprintComparator()
def h(b): return hashlib.sha256(b).hexdigest()[:16]
for db in ("fvc2002_db1_b", "fvc2002_db2_b", "fvc2002_db3_b", "fvc2002_db4_b"):
    files = sorted((DATA / "fingerprint" / db).glob("*.tif"))[:6]  # finger 101 x6 impressions
    temps = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        ppi = 569 if "db2" in db else 500
        s = Sample(img, ppi, Modality.FINGERPRINT)
        t = ext.extract(s)
        r = qual.assess(s)
        temps.append(t)
        out[f"{db}/{f.name}/minutiae"] = h(t.minutiae.tobytes()) + f" n={len(t.minutiae)} q={t.quality}"
        out[f"{db}/{f.name}/quality"] = [r.score, h(json.dumps(r.to_json(), sort_keys=True, default=repr).encode())]
    scores = [[repr(cmp_.compare(a, b)) for b in temps] for a in temps]
    out[f"{db}/scores"] = scores
# iris
ie, ic = IrisExtractor(), IrisComparator()
iris_files = sorted((DATA / "iris" / "casia_irisv1").rglob("*.jpg"))[:8]
its = []
for f in iris_files:
    img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
    t = ie.extract(Sample(img, 300, Modality.IRIS))
    its.append(t)
    out[f"iris/{f.relative_to(DATA)}"] = [h(t.code.tobytes()), h(t.mask.tobytes())]
out["iris/distances"] = [[repr(ic.distance(a, b).distance) for b in its] for a in its]
out["iris/compare"] = [[repr(ic.compare(a, b)) for b in its] for a in its]
Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
print("wrote", sys.argv[1], len(out))

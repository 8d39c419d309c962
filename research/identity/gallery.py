"""10,000-finger gallery search reference: 9,900 synthetic fillers (seed 0) + 100 FVC2002 DB1/DB3
mates (impression 1); probes = impression 2 of 40 of them. Top-10 ids and scores, exhaustive too."""
import hashlib
import json
import os
import sys
from pathlib import Path
import cv2
from biocap.types import Sample, Modality
from biocap.templates.fingerprint import FingerprintExtractor
from biocap.matching.fingerprint import FingerprintComparator
try:
    from biocap.synthetic.fingerprint.templates import iter_finger_templates
except ImportError:  # a tree from before issue 15's layout
    from biocap.synthetic.fingerprint_templates import iter_finger_templates

DATA = Path(os.environ.get("BIOCAP_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "fingerprint"
ext, cmp_ = FingerprintExtractor(), FingerprintComparator()
mates, probes = [], []
for db in ("fvc2002_db1_b", "fvc2002_db3_b"):
    for subj in range(101, 111):
        for imp, dst in ((1, mates), (2, probes)):
            img = cv2.imread(str(DATA / db / f"{subj}_{imp}.tif"), cv2.IMREAD_GRAYSCALE)
            dst.append((f"{db}/{subj}", ext.extract(Sample(img, 500, Modality.FINGERPRINT))))
gal = cmp_.gallery()
fill = [(f"synthetic/{i}", t) for i, _, t in iter_finger_templates(9980, 1, 0)]
h = hashlib.sha256()
for _, t in fill:
    h.update(t.minutiae.tobytes())
enc = [(i, cmp_.encode(t)) for i, t in fill]
gal.add_many([(i, e) for i, e in enc if e.enrollable])
gal.add_many(mates)
out = {"n": len(gal), "fillers_sha": h.hexdigest()}
def hits(res):
    if hasattr(res, "extra") and "stage2" in res.extra:
        return [(c.id, repr(c.score)) for c in res.extra["stage2"]]
    if hasattr(res, "candidates"):
        return [(c.id, repr(c.score)) for c in res.candidates]
    return [(i, repr(s)) for i, s in res]
for key, t in probes:
    out[key] = hits(gal.search(t, top_k=10))
    out[key + "/exhaustive"] = hits(gal.search(t, top_k=10, exhaustive=True))
Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
print("wrote", sys.argv[1], len(gal))
if hasattr(gal.search(probes[0][1], top_k=1), "candidates"):  # the 1:1-scale answer (issue 15)
    r1_new = sum(gal.search(t, top_k=10).candidates[0].id == key for key, t in probes)
    r1_old = sum(gal.search(t, top_k=10).extra["stage2"][0].id == key for key, t in probes)
    print("rank-1 over", len(probes), "probes: stage-2 order", r1_old, "| 1:1-scale order", r1_new)

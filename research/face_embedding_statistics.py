"""How do real face descriptors spread? Genuine/impostor cosines of dlib's 128-D descriptor on
../shared/data/face/lfw7x50, next to the synthetic model the face search bench uses.

Needs (not biocap dependencies): pip install dlib-bin face-recognition-models
    .venv/bin/python research/face_embedding_statistics.py [--data DIR]
Prints JSON: cosine statistics of the unit-normalised descriptors (real) and of
`biocap.synthetic.face_embeddings` (synthetic), and the spectrum's effective dimension of each.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def real_descriptors(root: Path) -> tuple[np.ndarray, np.ndarray]:
    import cv2
    import dlib
    import face_recognition_models as frm

    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    vectors, labels = [], []
    for person, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for f in sorted(folder.glob("*.jpg")):
            bgr = cv2.imread(str(f))
            rgb = cv2.cvtColor(cv2.copyMakeBorder(bgr, 60, 60, 60, 60, cv2.BORDER_REPLICATE),
                               cv2.COLOR_BGR2RGB)
            rgb = cv2.resize(rgb, None, fx=2, fy=2)          # the 125 px crops are small for HOG
            faces = detector(rgb, 1)
            if not faces:
                continue
            box = max(faces, key=lambda r: r.width() * r.height())
            d = np.array(net.compute_face_descriptor(rgb, shape(rgb, box)), dtype=np.float64)
            vectors.append(d / np.linalg.norm(d))
            labels.append(person)
    return np.array(vectors), np.array(labels)


def stats(x: np.ndarray, labels: np.ndarray) -> dict:
    c = x @ x.T
    iu = np.triu_indices(len(x), 1)
    same = labels[iu[0]] == labels[iu[1]]
    gen, imp = c[iu][same], c[iu][~same]
    centred = x - x.mean(axis=0)
    ev = np.linalg.eigvalsh(centred.T @ centred / len(x))[::-1]
    out = {}
    if gen.size:
        out = {"genuine_cos_mean": float(gen.mean()), "genuine_cos_p05": float(np.quantile(gen, 0.05))}
    return {"n": int(len(x)), **out,
            "impostor_cos_mean": float(imp.mean()), "impostor_cos_sd": float(imp.std()),
            "impostor_cos_max": float(imp.max()),
            "effective_dimension": float(ev.sum() ** 2 / (ev ** 2).sum()),
            "mean_vector_norm": float(np.linalg.norm(x.mean(axis=0)))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/face/lfw7x50"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/biocap-lfw7x50-dlib.npz"),
                    help="descriptors computed once are kept here (outside the repository)")
    args = ap.parse_args()
    from biocap.synthetic.face_embeddings import EmbeddingModel, _Sampler, synthetic_gallery

    if args.cache.is_file():
        with np.load(args.cache) as z:
            real, labels = z["real"], z["labels"]
    else:
        real, labels = real_descriptors(args.data)
        np.savez(args.cache, real=real, labels=labels)
    # synthetic with the same shape: 7 identities x 50 images (one enrolled image + 49 mates)
    sampler = _Sampler(EmbeddingModel(), 0)
    ids = sampler.identities(7)
    syn = np.concatenate([ids, sampler.mates(np.repeat(ids, 49, axis=0))]).astype(np.float64)
    syn_labels = np.concatenate([np.arange(7), np.repeat(np.arange(7), 49)])
    big_g, _, _ = synthetic_gallery(2000, 0, seed=1)
    print(json.dumps({"real_dlib_lfw7x50": stats(real, labels),
                      "synthetic_7x50": stats(syn, syn_labels),
                      "synthetic_identities_effective_dimension":
                          stats(big_g.astype(np.float64), np.arange(2000))["effective_dimension"]}, indent=2))


if __name__ == "__main__":
    main()

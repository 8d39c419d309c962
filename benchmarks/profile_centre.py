"""Where one resident's time goes in the centre: every stage of the service path timed apart.

    python benchmarks/profile_centre.py --residents 16000 --probes 48 --json benchmarks/results/centre_profile.json

Stages (CPU seconds of this process, `time.process_time`, per resident; the machine is shared, so
CPU time is what compares across runs, wall time is reported beside it):
  package_build   the office's signed ANSI/NIST-ITL package (office side; not the centre's cost)
  http            one POST of the package over loopback to a FastAPI/uvicorn app that only reads
                  the body (wall ms: the server runs in this process)
  verify_parse    biocap.office.package.read_package: signature, strict parse, image hashes
  extract         the iris and face templates the centre searches: from the desk's Type-99
                  template records (the packages carry them)
  images, extract_from_images
                  side by side, the same packages read as an older office sends them (no
                  template records): decoding the two JPEG 2000 irises and the face, then iris
                  templates from the images (IrisExtractor) and the face embedding
  checks          check_arrival
  store           templates to bytes + the package row (AES-GCM, SQLite WAL)
  search          the de-duplication search on the gallery (in-process, the 4 shards of the
                  centre's database, batches of 16 as the service takes them); the search's own
                  split: irises, faces, fingers (person.PersonGallery.search_many `timings`)
  decide          recording the decisions (SQLite, batched in one transaction per batch)
  dask_round_trip a no-op task per shard on a local 2-worker cluster (wall ms per batch)
The gallery: the load test's cached population (`biocap bench dedup --residents N` builds it).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=10000)
    ap.add_argument("--probes", type=int, default=48)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/biocap-dedup-cache"))
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from biocap.centre.arrival import arrival_from_package, check_arrival
    from biocap.centre.loadtest import (enrol_mates_from_packages, package_for, plan, prebuilt_db,
                                        synthetic_face_embedder)
    import numpy as np

    from biocap.centre.service import Centre
    from biocap.matching.person import person_to_bytes
    from biocap.office.keys import OfficeIdentity
    from biocap.office.package import package_hash, read_package

    n = args.residents
    base = prebuilt_db(args.cache, args.seed, n, shards=4)
    work = Path(tempfile.mkdtemp(prefix="biocap-profile-"))
    data = work / "centre"
    shutil.copytree(base, data)
    sk = Ed25519PrivateKey.generate()
    office = OfficeIdentity("office-0", sk)
    (data / "offices").mkdir(exist_ok=True)
    (data / "offices" / "office-0.pub").write_bytes(office.public_bytes())
    items = plan(n, args.probes, max(2, args.probes // 4), 1, args.seed)
    enrol_mates_from_packages(data, items, args.seed)
    out: dict = {"residents": n, "probes": len(items), "load_average_start": os.getloadavg()}
    cpu: dict[str, float] = {}

    def timed(stage, fn, *a, **kw):
        t = time.process_time()
        r = fn(*a, **kw)
        cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - t
        return r

    pkgs, prev = [], None
    for seq, it in enumerate(items, 1):
        data_ = timed("package_build", package_for, args.seed, it, office, seq, prev)
        prev = package_hash(data_)
        pkgs.append(data_)
    out["package_bytes_mean"] = round(sum(map(len, pkgs)) / len(pkgs))

    # HTTP: the body read over loopback by uvicorn in this process (wall time per request)
    out["http_ms_per_package"] = _http_ms(pkgs[:16])

    trusted = {"office-0": office.public_key}
    from biocap.centre import arrival as A

    algorithms = synthetic_face_embedder.template_algorithms
    sources: dict[str, int] = {}
    same = 0
    for data_ in pkgs:
        pkg = timed("verify_parse", read_package, data_, trusted=trusted, decode_images=False)
        a = timed("extract", arrival_from_package, pkg, None, synthetic_face_embedder, algorithms)
        for label, src in a.sources.items():
            key = f"{label.split(':')[0]}_{src}"
            sources[key] = sources.get(key, 0) + 1
        timed("checks", check_arrival, a, A.CentrePolicy())
        timed("store_bytes", person_to_bytes, a.templates)
        # the reference: the same package without its template records (an older office)
        old = dataclasses.replace(pkg, irises={e: dataclasses.replace(i, templates={}) for e, i in pkg.irises.items()},
                                  face=dataclasses.replace(pkg.face, templates={}) if pkg.face else None)
        imgs = timed("images", A.decode_images, old)
        b = timed("extract_from_images", arrival_from_package, old, imgs, synthetic_face_embedder, algorithms)
        same += all(np.array_equal(a.templates.irises[e][0], b.templates.irises[e][0])
                    and np.array_equal(a.templates.irises[e][1], b.templates.irises[e][1])
                    for e in a.templates.irises) and set(a.templates.irises) == set(b.templates.irises)
    out["template_sources"] = sources
    out["carried_iris_equal_to_centre_extraction"] = f"{same}/{len(pkgs)}"
    # the service path proper: submit (verify, parse, extract, check, store) then batches
    centre = Centre(data, scheduler=False, start=False, face_embedder=synthetic_face_embedder)
    t0 = time.process_time()
    w0 = time.time()
    for data_ in pkgs:
        a = centre.submit(data_, None)
        assert a.status == 200, a.body
    cpu["submit_total"] = time.process_time() - t0
    out["submit_wall_s"] = round(time.time() - w0, 2)
    t0 = time.process_time()
    w0 = time.time()
    timings: dict[str, float] = {}
    decided = 0
    while True:
        k = centre.process_batch(timings)
        if not k:
            break
        decided += k
    cpu["dedup_total"] = time.process_time() - t0
    out["dedup_wall_s"] = round(time.time() - w0, 2)
    out["decided"] = decided
    out["dedup_split_cpu_ms_per_resident"] = {k: round(1000 * v / len(pkgs), 2) for k, v in timings.items()}
    centre.close()
    out["cpu_ms_per_resident"] = {k: round(1000 * v / len(pkgs), 2) for k, v in cpu.items()}
    out["face_extractor_cpu_ms"] = _face_ms()
    if not args.no_dask:
        out["dask_round_trip_ms_per_batch"] = _dask_round_trip()
    out["load_average_end"] = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


def _http_ms(pkgs: list[bytes]) -> float:
    import socket
    import threading

    import httpx
    import uvicorn
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/packages")
    async def post(request: Request):
        body = await request.body()
        return {"n": len(body)}

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{port}/packages"
    with httpx.Client(timeout=30) as c:
        for _ in range(100):
            try:
                c.post(url, content=b"x")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        t = time.time()
        for p in pkgs:
            c.post(url, content=p)
        ms = 1000 * (time.time() - t) / len(pkgs)
    server.should_exit = True
    th.join(timeout=10)
    return round(ms, 2)


def _face_ms() -> float | None:
    """CPU ms of the real face extractor (dlib) on a photo, when ../shared has LFW images (the
    load test's faces are embedding containers and do not pay it)."""
    import cv2

    from biocap.centre.arrival import face_embedding

    files = sorted((ROOT.parent / "shared" / "data" / "face" / "lfw7x50").rglob("*.jpg"))[:8]
    if not files:
        return None
    imgs = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    face_embedding(imgs[0])  # model load
    t = time.process_time()
    for im in imgs:
        face_embedding(im)
    return round(1000 * (time.process_time() - t) / len(imgs), 1)


def _dask_round_trip() -> float:
    from biocap.centre.dedup import start_cluster

    client, cluster = start_cluster(None, 2)
    try:
        client.gather([client.submit(int, s, pure=False) for s in range(4)])
        t = time.time()
        for b in range(10):
            client.gather([client.submit(int, s + b, pure=False) for s in range(4)])
        return round(100 * (time.time() - t), 1)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    raise SystemExit(main())

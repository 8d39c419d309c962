"""Synthetic residents for de-duplication benchmarks: ten fingers, two irises and a face each.

A person is an integer id (1-based) and a seed; everything about them is derived from those, so a
gallery of 100,000 residents can be regenerated (or split across processes) identically, and the
same person can be "enrolled again" at another office with fresh captures (`capture` > 1).

* Fingers: `iter_finger_templates` (template-only generation from statistical masters, the
  generator of `synthetic.fingerprint.templates`): person p's finger at ISO position k is synthetic finger
  10 (p - 1) + k; capture c is its impression c (fresh placement, distortion, missed and spurious
  minutiae).
* Irises: an eye's "texture" is the encoder's complex Gabor response on the 8 x 128 code grid,
  modelled as in `synthetic.iris.codes` (complex white noise band-passed along the angle with the
  encoder's transfer function, smoothed along the radius), drawn from the eye's own random stream.
  A capture mixes that texture with fresh noise of the same spectrum (weight `IRIS_CAPTURE_NOISE`,
  so phase bits flip in correlated patches, as between two real captures), turns the eye by up to
  +-4 code columns (head tilt), quantizes to 2 phase bits and draws an occlusion mask (upper-lid
  sector, lower lid, lash blobs) like the masks of real codes: the upper-lid sector is hidden on
  most captures, so about 55-70 % of the 2,048 bits are seen.
* Face: an identity is a random direction in 128-D (isotropic: impostor cosines centre on 0 with
  spread 1/sqrt(128) = 0.088); a capture adds isotropic noise of relative size
  `FACE_CAPTURE_NOISE` and is L2-normalised, so two captures of one person have a cosine of about
  0.5-0.8. This is a model of an embedding's statistics, not a rendered face; real embeddings have
  heavier impostor tails (recalibrate `calibration_person.json` on real data).

Nothing here renders an image: the gallery generator runs about 1,000+ residents a second on the
fingers' template-only path.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidDataError
from ..matching.iris.gallery import CODE_BYTES, COLUMNS, ROWS
from .iris.codes import _radial_matrix, _transfer
from ..templates.fingerprint.template import FingerprintTemplate
from .fingerprint.templates import iter_finger_templates

#: the encoder's spectrum as `synthetic.iris.codes.filler_codes` models it (wavelength 6.5 code
#: columns, envelope 1.8 columns, radial smoothing 0.85 rows): neighbouring bits agree as in
#: real CASIA-IrisV1 codes
IRIS_SPECTRUM = (6.5, 1.8, 0.85)
#: weight range of fresh noise in a capture (texture weight sqrt(1 - w^2)): genuine HD_norm of
#: two captures about 0.12-0.30 (CASIA-IrisV1 genuine pairs of the encoder: mostly 0.1-0.3)
IRIS_CAPTURE_NOISE = (0.35, 0.62)
#: eye turn between captures, code columns (2.8 degrees each): within the gallery's +-8
IRIS_MAX_TURN = 4
#: relative size of a face capture's noise: capture-to-capture cosine about 0.5-0.8
FACE_CAPTURE_NOISE = (0.45, 0.9)
FACE_DIM = 128


def _rng(seed: int, *tag) -> np.random.Generator:
    h = hashlib.sha256(repr((int(seed),) + tuple(tag)).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _texture(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    wl, sc, sr = IRIS_SPECTRUM
    h = _transfer(COLUMNS, wl, sc)
    radial = _radial_matrix(ROWS, sr)
    noise = rng.standard_normal((n, ROWS, COLUMNS)).astype(np.float32)
    noise = np.matmul(radial, noise)
    resp = np.fft.ifft(np.fft.fft(noise, axis=2) * h, axis=2)
    return resp / np.sqrt(np.mean(np.abs(resp) ** 2, axis=(1, 2), keepdims=True))


def _pack(resp: np.ndarray) -> np.ndarray:
    """(n, rows, cols) complex -> (n, 256) packed codes, column-major like the encoder's."""
    bits = np.stack([resp.real > 0, resp.imag > 0], axis=-1)
    n = resp.shape[0]
    return np.packbits(bits.transpose(0, 2, 1, 3).reshape(n, -1), axis=1)


def _mask(rng: np.random.Generator) -> np.ndarray:
    """A capture's occlusion mask, packed like the codes (1 = bit seen)."""
    seen = np.ones((ROWS, COLUMNS), bool)
    if rng.random() < 0.85:  # upper-lid sector (code columns 16-47 in real codes)
        a, b = 16 + rng.integers(-4, 5), 48 + rng.integers(-4, 5)
        seen[:, a:b] = False
    # lower lid: outer rows over a sector around column 96
    w = int(rng.integers(0, 28))
    if w:
        c0 = 96 - w // 2 + int(rng.integers(-6, 7))
        seen[ROWS - int(rng.integers(2, 5)):, c0:c0 + w] = False
    for _ in range(int(rng.poisson(3))):  # lashes / highlights: small blobs
        c, r = int(rng.integers(0, COLUMNS)), int(rng.integers(0, ROWS))
        seen[max(0, r - 1):r + 2, c:c + int(rng.integers(2, 7))] = False
    bits = np.repeat(seen[..., None], 2, axis=-1)  # both phase bits of a sample
    return np.packbits(bits.transpose(1, 0, 2).reshape(1, -1), axis=1)[0]


def iris_capture(seed: int, person: int, eye: int, capture: int) -> tuple[np.ndarray, np.ndarray]:
    """(code, mask), each (256,) uint8, of capture `capture` of `person`'s eye (1 right, 2 left)."""
    texture = _texture(_rng(seed, "iris", person, eye))[0]
    rng = _rng(seed, "iris-capture", person, eye, capture)
    w = rng.uniform(*IRIS_CAPTURE_NOISE)
    resp = np.sqrt(1 - w * w) * texture + w * _texture(rng)[0]
    resp = np.roll(resp, int(rng.integers(-IRIS_MAX_TURN, IRIS_MAX_TURN + 1)), axis=1)
    return _pack(resp[None])[0], _mask(rng)


def face_capture(seed: int, person: int, capture: int) -> np.ndarray:
    """A (128,) float32 L2-normalised face embedding of capture `capture` of `person`."""
    v = _rng(seed, "face", person).standard_normal(FACE_DIM)
    v /= np.linalg.norm(v)
    rng = _rng(seed, "face-capture", person, capture)
    noise = rng.standard_normal(FACE_DIM) / np.sqrt(FACE_DIM)
    e = v + rng.uniform(*FACE_CAPTURE_NOISE) * noise
    return (e / np.linalg.norm(e)).astype(np.float32)


@dataclass
class SyntheticResident:
    """One enrolment of a synthetic person: the templates a centre would receive."""

    person: int
    capture: int
    fingers: dict[int, FingerprintTemplate] = field(default_factory=dict)
    irises: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    face: np.ndarray | None = None
    missing: dict[str, list[int]] = field(default_factory=dict)  # declared exceptions


def resident(seed: int, person: int, capture: int = 1, *, missing_fingers: tuple[int, ...] = (),
             missing_irises: tuple[int, ...] = (), face: bool = True) -> SyntheticResident:
    """Capture `capture` of synthetic `person` (fingers at positions 1-10, eyes 1-2, a face),
    without the fingers and eyes listed as missing (declared exceptions)."""
    if isinstance(person, bool) or not isinstance(person, (int, np.integer)) or person < 1:
        raise InvalidDataError(f"person must be a positive integer, got {person!r}")
    if not 1 <= int(capture) <= 1000:
        raise InvalidDataError(f"capture {capture} is outside 1..1000")
    r = SyntheticResident(int(person), int(capture))
    for fid, imp, t in iter_finger_templates(10, int(capture), seed, start=10 * (int(person) - 1) + 1):
        pos = (fid - 1) % 10 + 1
        if imp == capture and pos not in missing_fingers:
            r.fingers[pos] = t
    for eye in (1, 2):
        if eye not in missing_irises:
            r.irises[eye] = iris_capture(seed, person, eye, capture)
    if face:
        r.face = face_capture(seed, person, capture)
    r.missing = {"fingers": sorted(missing_fingers), "irises": sorted(missing_irises)}
    return r


__all__ = ["SyntheticResident", "face_capture", "iris_capture", "resident", "CODE_BYTES"]


# --- cached galleries for benchmarks ----------------------------------------------------------
def build_chunk(seed: int, first: int, count: int, path) -> None:
    """Capture 1 of persons first..first+count-1 as one .npz file (arrays only, no pickle):
    `persons`, `fingers` (concatenated `matching.person.encode_finger` records), `finger_offsets`
    ((count * 10 + 1) offsets, positions 1-10 in order), `iris_codes`, `iris_masks` ((count, 2,
    256): eyes 1, 2) and `face` ((count, 128) float32)."""
    from pathlib import Path

    from ..matching.person import encode_finger

    blobs, offs = [], [0]
    codes = np.zeros((count, 2, CODE_BYTES), np.uint8)
    masks = np.zeros((count, 2, CODE_BYTES), np.uint8)
    faces = np.zeros((count, FACE_DIM), np.float32)
    by_person: dict[int, dict[int, bytes]] = {}
    for fid, _, t in iter_finger_templates(10 * count, 1, seed, start=10 * (first - 1) + 1):
        by_person.setdefault((fid - 1) // 10 + 1, {})[(fid - 1) % 10 + 1] = encode_finger(t)
    for k in range(count):
        p = first + k
        for pos in range(1, 11):
            b = by_person[p][pos]
            blobs.append(b)
            offs.append(offs[-1] + len(b))
        for e in (1, 2):
            codes[k, e - 1], masks[k, e - 1] = iris_capture(seed, p, e, 1)
        faces[k] = face_capture(seed, p, 1)
    tmp = Path(str(path) + ".part.npz")
    np.savez(tmp, persons=np.arange(first, first + count, dtype=np.int64),
             fingers=np.frombuffer(b"".join(blobs), np.uint8), finger_offsets=np.asarray(offs, np.int64),
             iris_codes=codes, iris_masks=masks, face=faces)
    tmp.replace(path)


def load_chunk(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}

"""What the centre needs from a package, and the checks it runs on arrival.

`Arrival` is the centre's view of one resident package: the office's identity and chain
position, the idempotency key, the subject, the templates to de-duplicate, per-capture quality
and the declared exceptions. `arrival_from_package` builds it from the office's
`ResidentPackage` (biocap.office.package); tests and benchmarks may build it directly.

Checks (all run; every failure is one reason the office can act on while the resident is still
at the desk):
* format and mandatory fields: office id, subject, sequence, key present and sane;
* completeness: every finger (1-10) and both eyes captured or covered by a declared exception
  with a reason; a face always (no exception: the card needs a photo); a declared exception for
  a modality that was captured anyway is reported (the record contradicts itself);
* quality: every capture's score (0-100) at or above the programme policy's minimum for its
  modality and finger (the desk's policy); a finger template with too few minutiae to search on.
  A capture the desk accepted after its attempts with the operator's reason (package field 2.011)
  is not sent back for either: the desk already retook it, the resident has left, and the search
  runs on what there is (a finger the matcher cannot use adds no evidence; the others still do).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InvalidDataError
from ..matching.person import PersonTemplates

SUBJECT_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
OFFICE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class CentrePolicy:
    """The programme's minimums the centre checks: the same programme policy the desk captures
    with (`biocap.station.policy`, default the shipped `ektp`), so a record the desk accepted is
    not sent back for a threshold the desk never applied. A JSON file `policy.json` in the data
    directory overrides fields of it (`min_quality`, `finger_quality`, `min_minutiae`,
    `face_required`)."""

    #: quality score (0-100, each modality's provider scale) below which a capture is sent back
    min_quality: dict[str, float] = field(default_factory=lambda: {"fingerprint": 30.0, "iris": 40.0, "face": 40.0})
    #: per-finger minimums (ISO/IEC 19794-4 codes) where the programme sets them lower
    finger_quality: dict[int, float] = field(default_factory=dict)
    #: fewest minutiae a finger template may have before it is sent back to be retaken (the
    #: matcher's own floor, MIN_MINUTIAE, is 8; a finger under it adds no evidence to the search)
    min_minutiae: int = 12
    fingers: tuple[int, ...] = tuple(range(1, 11))
    eyes: tuple[int, ...] = (1, 2)
    face_required: bool = True

    @classmethod
    def from_programme(cls, name_or_path: str | Path = "ektp") -> "CentrePolicy":
        """The programme policy's quality minimums: a finger's is the lowest at which the desk
        can accept it (a finger cut from a slap, or the finger's own lower threshold)."""
        from ..station.policy import load_policy
        from ..types import Modality

        p = load_policy(name_or_path)

        def lowest(pos: int | None = None) -> float:  # captured alone or cut from a slap
            fp = Modality.FINGERPRINT
            return float(min(p.threshold(fp, pos), p.threshold(fp, pos, slap=True)))

        mins = {"fingerprint": lowest()}
        for m in (Modality.IRIS, Modality.FACE):
            if m in p.quality:
                mins[m.value] = float(p.quality[m])
        return cls(min_quality=mins, finger_quality={int(k): lowest(int(k)) for k in p.finger_quality})

    def finger_minimum(self, position: int) -> float | None:
        base = self.min_quality.get("fingerprint")
        return self.finger_quality.get(int(position), base)

    @classmethod
    def load(cls, data_dir: str | Path, programme: str | Path = "ektp") -> "CentrePolicy":
        p = Path(data_dir) / "policy.json"
        pol = cls.from_programme(programme)
        if p.exists():
            try:
                spec = json.loads(p.read_text())
                if "min_quality" in spec:
                    pol.min_quality.update({str(k): float(v) for k, v in spec["min_quality"].items()})
                if "finger_quality" in spec:
                    pol.finger_quality.update({int(k): float(v) for k, v in spec["finger_quality"].items()})
                for k in ("min_minutiae",):
                    if k in spec:
                        setattr(pol, k, int(spec[k]))
                if "face_required" in spec:
                    pol.face_required = bool(spec["face_required"])
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidDataError(f"{p} is not a valid centre policy: {exc}") from exc
        return pol


@dataclass
class Arrival:
    office_id: str
    sequence: int
    previous_hash: bytes | None
    package_hash: bytes
    key: str
    subject: str
    templates: PersonTemplates
    quality: dict[str, float | None] = field(default_factory=dict)  # "finger:2", "iris:1", "face"
    exceptions: dict[str, str] = field(default_factory=dict)  # same labels -> declared reason
    #: captures in the package (labels), whether or not a template could be made from them;
    #: None: exactly those in `templates`
    present: set[str] | None = None
    #: captures whose template could not be made (label -> why): sent back to the office
    unusable: dict[str, str] = field(default_factory=dict)
    #: captures the desk accepted below the policy's quality after its attempts, with the
    #: operator's reason (package field 2.011): label -> reason; not sent back for quality
    overrides: dict[str, str] = field(default_factory=dict)
    #: where each iris / face template came from: "record" (the desk's Type-99) or "image"
    sources: dict[str, str] = field(default_factory=dict)


def reason(code: str, where: str, message: str) -> dict:
    return {"code": code, "field": where, "message": message}


def check_arrival(a: Arrival, policy: CentrePolicy) -> list[dict]:
    reasons: list[dict] = []
    if not isinstance(a.office_id, str) or not OFFICE_RE.match(a.office_id):
        reasons.append(reason("format", "office_id", "office id missing or malformed"))
    if not isinstance(a.subject, str) or not SUBJECT_RE.match(a.subject):
        reasons.append(reason("format", "subject", "subject (NIK) missing or malformed: 1-64 letters, digits, . _ : -"))
    if isinstance(a.sequence, bool) or not isinstance(a.sequence, int) or a.sequence < 1:
        reasons.append(reason("format", "sequence", "package sequence must be a positive integer"))
    if not isinstance(a.key, str) or not 8 <= len(a.key) <= 128:
        reasons.append(reason("format", "idempotency_key", "idempotency key must be 8-128 characters"))
    t = a.templates
    if not isinstance(t, PersonTemplates):
        reasons.append(reason("format", "templates", "no biometric templates in the package"))
        return reasons
    exc = dict(a.exceptions or {})

    def overridden(label: str) -> bool:  # the desk accepted it after its attempts, with a reason
        return bool(str((a.overrides or {}).get(label, "")).strip())

    present = a.present if a.present is not None else set(t.modalities)
    for label, why in (a.unusable or {}).items():
        reasons.append(reason("unusable", label, f"{label}: {why}; recapture it"))
    for pos in policy.fingers:
        label = f"finger:{pos}"
        if label in present:
            if label in exc:
                reasons.append(reason("contradiction", label, f"finger {pos} is captured and also declared "
                                      f"missing ({exc[label]}); remove the exception or the capture"))
            if pos in t.fingers and len(t.fingers[pos]) < policy.min_minutiae and not overridden(label):
                reasons.append(reason("quality", label, f"finger {pos} has {len(t.fingers[pos])} minutiae "
                                      f"(< {policy.min_minutiae}): recapture it (clean, press flat)"))
        elif not str(exc.get(label, "")).strip():
            reasons.append(reason("missing", label, f"finger {pos} is neither captured nor declared as an "
                                  "exception with a reason (amputated, bandaged, ...)"))
    for eye in policy.eyes:
        label = f"iris:{eye}"
        if label in present:
            if label in exc:
                reasons.append(reason("contradiction", label, f"eye {eye} is captured and also declared missing"))
        elif not str(exc.get(label, "")).strip():
            reasons.append(reason("missing", label, f"eye {eye} is neither captured nor declared as an "
                                  "exception with a reason"))
    if policy.face_required and "face" not in present:
        reasons.append(reason("missing", "face", "the face is mandatory (no exception: the card needs a photo)"))
    for label, q in (a.quality or {}).items():
        modality = {"finger": "fingerprint", "iris": "iris", "face": "face"}.get(label.split(":")[0])
        if modality is None or q is None:
            continue
        where = label.split(":")[-1]
        lim = (policy.finger_minimum(int(where)) if modality == "fingerprint" and where.isdigit()
               else policy.min_quality.get(modality))
        try:
            qv = float(q)
        except (TypeError, ValueError):
            reasons.append(reason("format", label, f"quality {q!r} is not a number"))
            continue
        if lim is not None and qv < lim and not overridden(label):
            reasons.append(reason("quality", label, f"{label} quality {qv:.0f} is below the programme's "
                                  f"{lim:.0f}: recapture it"))
    return reasons


FaceEmbedder = Callable[[Any], Any]  # face image -> (128,) embedding or None


def decode_images(pkg: Any) -> dict[str, Any]:
    """The images the centre extracts templates from, decoded: "iris:1", "iris:2", "face" ->
    uint8 array. Read the package with `read_package(..., decode_images=False)` first: the
    fingers' images are not decoded at all (the centre searches their ISO/IEC 19794-2 records)."""
    from ..office.package import jp2_decode

    out: dict[str, Any] = {}
    for eye, item in dict(getattr(pkg, "irises", {}) or {}).items():
        out[f"iris:{int(eye)}"] = _image(item, jp2_decode)
    face = getattr(pkg, "face", None)
    if face is not None:
        out["face"] = _image(face, jp2_decode)
    return out


def _image(item: Any, decode) -> Any:
    img = getattr(item, "image", None)
    if img is not None and getattr(img, "size", 0) > 1:  # decoded already
        return img
    return decode(item.compressed)


def arrival_from_package(pkg: Any, images: dict[str, Any] | None = None,
                         face_embedder: FaceEmbedder | None = None,
                         face_algorithms: set[str] | frozenset[str] | None = None) -> Arrival:
    """The centre's view of an office `ResidentPackage` (biocap.office.package): finger
    templates from the ISO/IEC 19794-2 records the office sent with each finger; iris templates
    and the face embedding from the Type-99 template records the desk made, when their algorithm
    id is this build's (`office.package.template_algorithm`; for faces: one of `face_algorithms`,
    default this build's face extractor), else extracted here from the image (decoded only
    then; an older office or another extractor version). A face without an embedding is sent back
    to the office: the search cannot bound the fingers without it. `Arrival.sources` says where
    each iris and face template came from ("record" or "image")."""
    from ..errors import BiocapError
    from ..matching.fingerprint.matcher import as_template
    from ..office.package import FACE_TEMPLATE, IRIS_TEMPLATE, template_algorithm

    images = dict(images or {})
    fingers, irises, quality, unusable, present, sources = {}, {}, {}, {}, set(), {}
    for pos, item in dict(getattr(pkg, "fingers", {}) or {}).items():
        label = f"finger:{int(pos)}"
        present.add(label)
        quality[label] = _quality(item)
        records = dict(getattr(item, "templates", {}) or {})
        rec = records.get("iso19794-2:2011") or next(iter(records.values()), None)
        if rec is None:
            unusable[label] = "no minutiae record with the finger"
            continue
        try:
            tmpl = as_template(rec)
            tmpl.position = int(pos)
            fingers[int(pos)] = tmpl
        except BiocapError as exc:
            unusable[label] = f"its minutiae record does not decode ({exc})"
    iris_alg = template_algorithm(IRIS_TEMPLATE)
    for eye, item in dict(getattr(pkg, "irises", {}) or {}).items():
        label = f"iris:{int(eye)}"
        present.add(label)
        quality[label] = _quality(item)
        carried = _carried_iris(item, iris_alg)
        if carried is not None:
            irises[int(eye)], sources[label] = carried, "record"
            continue
        try:
            irises[int(eye)] = _iris_template(_decoded(images, label, item), item)
            sources[label] = "image"
        except BiocapError as exc:
            unusable[label] = f"no iris template from the image ({exc})"
    face = getattr(pkg, "face", None)
    emb = None
    if face is not None:
        present.add("face")
        quality["face"] = _quality(face)
        accepted = {template_algorithm(FACE_TEMPLATE)} if face_algorithms is None else set(face_algorithms)
        emb = _carried_face(face, accepted)
        if emb is not None:
            sources["face"] = "record"
        else:
            try:
                emb = (face_embedder or face_embedding)(_decoded(images, "face", face))
            except BiocapError:
                emb = None
            sources["face"] = "image"
        if emb is None:
            unusable["face"] = "no face found in the image (frontal, eyes open, evenly lit)"
    exceptions = {_capture_label(e): str(_field(e, ("reason", "code")) or "declared")
                  for e in getattr(pkg, "exceptions", []) or []}
    overrides = {_capture_label(o): str(_field(o, ("reason",)) or "")
                 for o in getattr(pkg, "overrides", []) or []}
    prev = pkg.previous_hash
    if prev is not None and not any(prev):  # the office's first package: previous = 32 zero bytes
        prev = None
    return Arrival(office_id=pkg.office_id, sequence=int(pkg.sequence), previous_hash=prev,
                   package_hash=pkg.package_hash, key=pkg.idempotency_key, subject=pkg.subject,
                   templates=PersonTemplates(fingers=fingers, irises=irises, face=emb),
                   quality=quality, exceptions=exceptions, present=present, unusable=unusable,
                   overrides=overrides, sources=sources)


def _decoded(images: dict[str, Any], label: str, item: Any) -> Any:
    """The decoded image of a package item (decoded once, here, and only when needed)."""
    from ..office.package import jp2_decode

    if images.get(label) is None:
        images[label] = _image(item, jp2_decode)
    return images[label]


def _carried_iris(item: Any, algorithm: str) -> tuple | None:
    """(code, mask) of the iris template record the desk made, or None (absent, another
    algorithm or template version, or not a code the iris gallery holds)."""
    from ..errors import BiocapError
    from ..matching.iris.gallery import CODE_BYTES
    from ..office.package import IRIS_TEMPLATE
    from ..templates.iris.template import IrisTemplate

    rec = (getattr(item, "templates", None) or {}).get(IRIS_TEMPLATE)
    if rec is None or rec.algorithm != algorithm:
        return None
    try:
        t = IrisTemplate.from_bytes(rec.data)
    except BiocapError:
        return None
    if t.code.size != CODE_BYTES or not t.mask.any():
        return None
    return t.code, t.mask


def _carried_face(item: Any, algorithms: set[str]):
    from ..errors import BiocapError
    from ..office.package import FACE_TEMPLATE
    from ..templates.face.template import FaceTemplate

    rec = (getattr(item, "templates", None) or {}).get(FACE_TEMPLATE)
    if rec is None or rec.algorithm not in algorithms:
        return None
    try:
        return FaceTemplate.from_bytes(rec.data).embedding
    except BiocapError:
        return None


def _iris_template(image: Any, item: Any) -> tuple:
    from ..errors import InvalidSample
    from ..types import Modality, Sample

    if image is None:
        raise InvalidSample("the iris image is missing")
    s = Sample(image, float(getattr(item, "ppi", 0) or 500), Modality.IRIS)
    t = _iris_extractor().extract(s)
    return t.code, t.mask


_IRIS_EXTRACTOR = None


def _iris_extractor():
    global _IRIS_EXTRACTOR
    if _IRIS_EXTRACTOR is None:
        from ..templates.iris import IrisExtractor

        _IRIS_EXTRACTOR = IrisExtractor()
    return _IRIS_EXTRACTOR


def face_embedding(image: Any):
    """The face embedding of a face image with this build's face extractor (dlib ResNet,
    biocap.templates.face), or None when no face is found or the extractor is not installed."""
    if image is None:
        return None
    try:
        from ..templates.face import FaceExtractor
    except ImportError:
        return None
    from ..errors import BiocapError
    from ..types import Modality, Sample

    try:
        t = FaceExtractor().extract(Sample(image, 300.0, Modality.FACE))
    except BiocapError:
        return None
    return getattr(t, "embedding", None)


def _capture_label(entry: Any) -> str:
    """The arrival's label ("finger:7", "iris:1", "face") of a package's exception or override."""
    mod = str(_field(entry, ("modality",)) or "").lower()
    pos = _field(entry, ("position",))
    label = "finger" if mod.startswith("finger") else "iris" if mod.startswith("iris") else mod
    return f"{label}:{int(pos)}" if pos else label


def _field(obj: Any, names: tuple[str, ...]) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def _quality(item: Any) -> float | None:
    q = _field(item, ("quality",))
    if isinstance(q, Mapping):
        q = q.get("score")
    q = getattr(q, "score", q)
    return None if q is None else float(q)

"""STAND-IN for `biocap.office.package` until the office branch's signed ANSI/NIST-ITL package
lands: the same two functions and the same `ResidentPackage` fields (COORDINATION.md), so the
centre, its tests and `biocap bench dedup` run end to end today and switch to the office's
format by import (`service.default_reader` prefers `biocap.office.package` when it exists).

Not a format to keep: a signed envelope of the fields the centre reads (header JSON + the
resident's templates as `matching.person.person_to_bytes` + an Ed25519 signature over all the
bytes before it). Hostile input is bounded (sizes checked before parsing) and every failure is a
`PackageError` whose message names the problem.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import InvalidDataError
from ..matching.person import PersonTemplates, person_from_bytes, person_to_bytes

MAGIC = b"BIOCAP-INTERIM-PKG1"
MAX_HEADER = 64 << 10
SIG = 64


class PackageError(InvalidDataError):
    hint = "rebuild the package with the office software and send it again"


class UnknownOffice(PackageError):
    hint = "register the office's public key with the centre"


class BadSignature(PackageError):
    hint = "the package was altered or signed with another key; rebuild and re-sign it"


@dataclass
class OfficeIdentity:
    office_id: str
    key: Ed25519PrivateKey


@dataclass
class ResidentPackage:
    office_id: str
    sequence: int
    previous_hash: bytes | None
    package_hash: bytes
    idempotency_key: str
    subject: str
    templates: PersonTemplates
    quality: dict[str, float | None] = field(default_factory=dict)
    exceptions: dict[str, str] = field(default_factory=dict)
    signature: bytes = b""


def build_package(subject: str, templates: PersonTemplates, *, office: OfficeIdentity, sequence: int,
                  previous_hash: bytes | None, idempotency_key: str,
                  quality: dict | None = None, exceptions: dict | None = None) -> bytes:
    header = json.dumps({"office_id": office.office_id, "sequence": int(sequence),
                         "previous_hash": previous_hash.hex() if previous_hash else None,
                         "idempotency_key": idempotency_key, "subject": subject,
                         "quality": quality or {}, "exceptions": exceptions or {}}).encode()
    body = person_to_bytes(templates)
    data = MAGIC + struct.pack("<II", len(header), len(body)) + header + body
    return data + office.key.sign(data)


def package_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def read_package(data: bytes, *, trusted: dict[str, Ed25519PublicKey]) -> ResidentPackage:
    if not isinstance(data, (bytes, bytearray)):
        raise PackageError("a package is bytes")
    data = bytes(data)
    n = len(MAGIC) + 8
    if len(data) < n + SIG or data[:len(MAGIC)] != MAGIC:
        raise PackageError("not a biocap package (magic or length)")
    hl, bl = struct.unpack_from("<II", data, len(MAGIC))
    if hl > MAX_HEADER or n + hl + bl + SIG != len(data):
        raise PackageError("package sizes do not add up (truncated or padded)")
    try:
        h = json.loads(data[n:n + hl])
        office_id = h["office_id"]
        if not isinstance(office_id, str):
            raise TypeError("office_id")
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"unreadable package header: {exc}") from exc
    key = trusted.get(office_id)
    if key is None:
        raise UnknownOffice(f"office {office_id!r} is unknown to the centre (no registered key)")
    try:
        key.verify(data[-SIG:], data[:-SIG])
    except InvalidSignature as exc:
        raise BadSignature(f"package signature does not verify with office {office_id}'s key") from exc
    try:
        prev = bytes.fromhex(h["previous_hash"]) if h.get("previous_hash") else None
        templates = person_from_bytes(data[n + hl:n + hl + bl])
        return ResidentPackage(office_id, int(h["sequence"]), prev, package_hash(data), str(h["idempotency_key"]),
                               str(h["subject"]), templates, dict(h.get("quality") or {}),
                               {str(k): str(v) for k, v in dict(h.get("exceptions") or {}).items()},
                               data[-SIG:])
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"package fields are malformed: {exc}") from exc


def arrival_of(pkg: ResidentPackage) -> Any:
    from .arrival import Arrival

    return Arrival(pkg.office_id, pkg.sequence, pkg.previous_hash, pkg.package_hash, pkg.idempotency_key,
                   pkg.subject, pkg.templates, dict(pkg.quality), dict(pkg.exceptions))


def interim_reader(data: bytes, trusted: dict) -> Any:
    from .errors import Refused

    try:
        return arrival_of(read_package(data, trusted=trusted))
    except UnknownOffice as exc:
        raise Refused("unknown_office", str(exc), 401) from exc
    except BadSignature as exc:
        raise Refused("bad_signature", str(exc), 401) from exc
    except PackageError as exc:
        raise Refused("corrupt", str(exc), 400) from exc
    except InvalidDataError as exc:  # templates inside did not decode
        raise Refused("corrupt", f"package content: {exc}", 400) from exc

"""The office's keys: store master keys (AES-256) and the office's Ed25519 signing key.

A key directory (``--keys DIR`` or ``BIOCAP_KEYS``) holds:

- ``store-<n>.key``: 32 random bytes as hex, one per generation; the highest ``n`` is current.
  A store keeps its records under its own data key and keeps that data key wrapped (AES-GCM)
  under a master key; rotating writes ``store-<n+1>.key`` and re-wraps, with no re-capture.
- ``office-signing.pem``: the office's Ed25519 private key (PKCS#8 PEM), signs packages.
- ``office-signing.pub``: its public key (the centre's trusted list takes this file).
- ``office.json``: ``{"office_id": ...}``.
- ``chain-head.json``: the office's last issued package, signed (``biocap.office.chain``).

Every file is created 0600 and the directory 0700; a key file readable by group or others is
refused, as ssh refuses such keys.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import MissingKeys, StoreError

KEYS_ENV = "BIOCAP_KEYS"
STORE_KEY_RE = re.compile(r"^store-(\d{1,6})\.key$")
SIGNING_FILE = "office-signing.pem"
PUBLIC_FILE = "office-signing.pub"
OFFICE_FILE = "office.json"
OFFICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class OfficeIdentity:
    office_id: str
    signing_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (where directories can be fsynced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - not every platform fsyncs directories
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, doc: dict) -> None:
    """Write `doc` as JSON to `path` (0600): a `.partial` file, fsynced, renamed over `path`."""
    tmp = path.with_name(path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_private(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MissingKeys(f"key file {path} does not exist") from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise StoreError(f"key file {path} is readable by others (mode {stat.filemode(st.st_mode)})",
                         hint=f"chmod 600 {path}")
    return path.read_bytes()


class KeyRing:
    """Store master keys by generation, and the office identity when the directory has one."""

    def __init__(self, store_keys: dict[int, bytes], identity: OfficeIdentity | None = None,
                 directory: Path | None = None):
        if not store_keys:
            raise MissingKeys("the key ring holds no store key")
        for n, key in store_keys.items():
            if len(key) != 32:
                raise StoreError(f"store key {n} is {len(key)} bytes, not 32")
        self._keys = dict(store_keys)
        self.identity = identity
        self.directory = directory

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def create(cls, directory: str | Path, office_id: str) -> "KeyRing":
        """Make a new key directory (refuses one that already holds keys)."""
        if not OFFICE_ID_RE.match(office_id or ""):
            raise StoreError(f"office id {office_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if any(STORE_KEY_RE.match(p.name) for p in directory.iterdir()) or \
                (directory / SIGNING_FILE).exists():
            raise StoreError(f"{directory} already holds keys; refusing to overwrite them",
                             hint="use another directory, or `rotate` to add a store key")
        _write_private(directory / "store-1.key", secrets.token_bytes(32).hex().encode())
        signing = Ed25519PrivateKey.generate()
        _write_private(directory / SIGNING_FILE, signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        _write_private(directory / PUBLIC_FILE, signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        _write_private(directory / OFFICE_FILE, json.dumps({"office_id": office_id}).encode())
        return cls.load(directory)

    @classmethod
    def load(cls, directory: str | Path) -> "KeyRing":
        directory = Path(directory)
        if not directory.is_dir():
            raise MissingKeys(f"key directory {directory} does not exist")
        keys: dict[int, bytes] = {}
        for p in directory.iterdir():
            m = STORE_KEY_RE.match(p.name)
            if not m:
                continue
            text = _read_private(p).strip()
            try:
                key = bytes.fromhex(text.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise StoreError(f"key file {p} is not 64 hex digits") from None
            if len(key) != 32:
                raise StoreError(f"key file {p} holds {len(key)} bytes, not 32")
            keys[int(m.group(1))] = key
        if not keys:
            raise MissingKeys(f"no store key (store-N.key) in {directory}")
        identity = None
        if (directory / SIGNING_FILE).exists():
            try:
                signing = serialization.load_pem_private_key(
                    _read_private(directory / SIGNING_FILE), password=None)
                office = json.loads(_read_private(directory / OFFICE_FILE))
                office_id = office["office_id"]
            except (ValueError, TypeError, KeyError) as exc:
                raise StoreError(f"the office signing key or office.json in {directory} is "
                                 f"unreadable: {exc}") from None
            if not isinstance(signing, Ed25519PrivateKey):
                raise StoreError(f"{directory / SIGNING_FILE} is not an Ed25519 key")
            identity = OfficeIdentity(office_id, signing)
        return cls(keys, identity, directory)

    @classmethod
    def from_env(cls, directory: str | Path | None = None) -> "KeyRing":
        """The key ring named by `directory`, else by $BIOCAP_KEYS; neither -> MissingKeys."""
        directory = directory or os.environ.get(KEYS_ENV)
        if not directory:
            raise MissingKeys("no key directory given")
        return cls.load(directory)

    def rotate(self) -> int:
        """Add a new store master key generation to the directory; returns its number."""
        if self.directory is None:
            raise StoreError("this key ring has no directory to write a new key into")
        n = max(self._keys) + 1
        key = secrets.token_bytes(32)
        _write_private(self.directory / f"store-{n}.key", key.hex().encode())
        self._keys[n] = key
        return n

    # --- use -------------------------------------------------------------------------------------
    @property
    def current(self) -> int:
        return max(self._keys)

    def store_key(self, generation: int) -> bytes | None:
        return self._keys.get(generation)

    def generations(self) -> list[int]:
        return sorted(self._keys)

    def require_identity(self) -> OfficeIdentity:
        if self.identity is None:
            raise MissingKeys("the key directory has no office signing key",
                              hint="make the directory with `biocap office init --keys DIR`")
        return self.identity


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is not a readable public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise StoreError(f"{path} is not an Ed25519 public key")
    return key

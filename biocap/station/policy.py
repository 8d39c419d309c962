"""Enrollment policy as data: one TOML file per programme (e-KTP's ships as package data).

    policy = load_policy("ektp")               # a shipped policy by name
    policy = load_policy(Path("other.toml"))   # or any file
    policy.check_devices(sdk.devices())        # before any capture: every modality has a device

A policy says what to capture (steps, in order), the lowest accepted quality per modality and
finger, how many attempts a step gets before the operator may override a rejection with a
reason, which exception codes may be declared (each with its reason), and the desk's checks.
Everything is validated on load: an unknown field, a wrong type, a step of an unknown modality
or position, an exception code without a reason raise one `PolicyError` naming the field.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from ..types import DeviceInfo, FingerPosition, Modality
from .errors import PolicyError

#: policy files larger than this are refused before parsing (a policy is a few KiB)
MAX_POLICY_BYTES = 256 * 1024
UNSCORED_RULES = ("operator", "accept")
SLAP_POSITIONS = (13, 14, 15)
_VALID_POSITIONS = {
    Modality.FINGERPRINT: set(range(1, 11)) | set(SLAP_POSITIONS),
    Modality.IRIS: {1, 2},
    Modality.FACE: set(),
    Modality.SIGNATURE: set(),
}


@dataclass(frozen=True)
class Step:
    id: str
    modality: Modality
    positions: tuple[int, ...]
    prompt: str

    @property
    def is_slap(self) -> bool:
        return self.modality is Modality.FINGERPRINT and any(p in SLAP_POSITIONS for p in self.positions)

    @property
    def fingers(self) -> tuple[int, ...]:
        """The single positions this step yields (a slap's fingers, both eyes...)."""
        if self.modality is Modality.FINGERPRINT:
            out: list[int] = []
            for p in self.positions:
                out += [int(f) for f in FingerPosition(p).fingers]
            return tuple(out)
        return self.positions or (0,)


@dataclass(frozen=True)
class ExceptionCode:
    code: str
    modality: Modality
    reason: str


@dataclass(frozen=True)
class Checks:
    sequence: bool = True
    verify_positions: tuple[int, ...] = ()
    verify_fmr: float = 1e-4
    duplicate_fmr: float = 1e-4


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    version: int
    max_attempts: int
    quality: dict[Modality, int]
    finger_quality: dict[int, int]
    unscored: str
    steps: tuple[Step, ...]
    exceptions: tuple[ExceptionCode, ...]
    checks: Checks = field(default_factory=Checks)
    source: str = ""
    slap_quality: int | None = None

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise PolicyError(f"policy {self.name!r} has no step {step_id!r}; its steps: "
                          + ", ".join(s.id for s in self.steps))

    def threshold(self, modality: Modality, position: int | None = None, *,
                  slap: bool = False) -> int:
        """Lowest accepted score; a finger cut from a slap by the slap threshold when the
        policy sets one (a plain fingertip in a slap prints a smaller area than a flat single)."""
        base = self.quality[Modality(modality)]
        if modality is Modality.FINGERPRINT and slap and self.slap_quality is not None:
            base = self.slap_quality
        if modality is Modality.FINGERPRINT and position in self.finger_quality:
            return min(base, self.finger_quality[int(position)])
        return base

    def exception(self, modality: Modality, code: str) -> ExceptionCode:
        for e in self.exceptions:
            if e.code == code and e.modality is Modality(modality):
                return e
        known = ", ".join(f"{e.code} ({e.reason})" for e in self.exceptions
                          if e.modality is Modality(modality)) or "none"
        raise PolicyError(f"exception code {code!r} is not declared for {Modality(modality).value} "
                          f"in policy {self.name!r}; declared: {known}",
                          hint="use one of the policy's exception codes")

    def modalities(self) -> set[Modality]:
        return {s.modality for s in self.steps}

    def check_devices(self, devices: Iterable[DeviceInfo]) -> dict[Modality, DeviceInfo]:
        """The device for each modality the policy captures (a simulated one last); a
        `PolicyError` naming every modality or position no device offers."""
        chosen: dict[Modality, DeviceInfo] = {}
        devices = list(devices)
        problems = []
        for modality in sorted(self.modalities(), key=lambda m: m.value):
            offered = [d for d in devices if d.modality is modality]
            if not offered:
                problems.append(f"{modality.value}: no attached device offers it")
                continue
            wanted = {p for s in self.steps if s.modality is modality for p in s.positions}
            fits = [d for d in offered if not d.positions or wanted <= set(d.positions)]
            if not fits:
                problems.append(f"{modality.value}: no device captures position(s) "
                                f"{sorted(wanted)} (offered: "
                                + "; ".join(f"{d.id} {list(d.positions)}" for d in offered) + ")")
                continue
            chosen[modality] = sorted(fits, key=lambda d: d.bus == "sim")[0]
        if problems:
            raise PolicyError(f"policy {self.name!r} cannot run on the attached devices: "
                              + "; ".join(problems),
                              hint="attach the missing devices (`biocap devices` lists them) "
                                   "or use a policy without those steps")
        return chosen


# --- loading ---------------------------------------------------------------------------------------
_TOP = {"programme", "attempts", "quality", "checks", "step", "exception"}
_PROGRAMME = {"name", "title", "version"}
_ATTEMPTS = {"max"}
_CHECKS = {"sequence", "verify_positions", "verify_fmr", "duplicate_fmr"}
_STEP = {"id", "modality", "positions", "prompt"}
_EXCEPTION = {"code", "modality", "reason"}


def shipped_policies() -> list[str]:
    folder = resources.files(__package__).joinpath("policies")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_policy(name_or_path: str | Path) -> Policy:
    """A shipped policy by name (`ektp`) or a policy file by path."""
    if isinstance(name_or_path, str) and name_or_path in shipped_policies():
        text = resources.files(__package__).joinpath("policies", f"{name_or_path}.toml").read_bytes()
        return parse_policy(text, source=f"shipped:{name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        raise PolicyError(f"no policy {str(name_or_path)!r}: not a shipped policy "
                          f"({', '.join(shipped_policies())}) nor a file",
                          hint="give a shipped policy name or the path of a .toml policy file")
    if path.stat().st_size > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file {path} is larger than {MAX_POLICY_BYTES} bytes")
    return parse_policy(path.read_bytes(), source=str(path))


def parse_policy(data: bytes | str, *, source: str = "<text>") -> Policy:
    if isinstance(data, bytes):
        if len(data) > MAX_POLICY_BYTES:
            raise PolicyError(f"policy {source} is larger than {MAX_POLICY_BYTES} bytes")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"policy {source} is not UTF-8 text: {exc}") from None
    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy {source} is not valid TOML: {exc}") from None
    where = f"policy {source}"
    _only(doc, _TOP, where)
    prog = _table(doc, "programme", where, required=True)
    _only(prog, _PROGRAMME, f"{where} [programme]")
    name = _str(prog, "name", f"{where} [programme]")
    title = _str(prog, "title", f"{where} [programme]", default=name)
    version = _int(prog, "version", f"{where} [programme]", 1, 10**6, default=1)

    attempts = _table(doc, "attempts", where)
    _only(attempts, _ATTEMPTS, f"{where} [attempts]")
    max_attempts = _int(attempts, "max", f"{where} [attempts]", 1, 20, default=3)

    steps = _steps(doc, where)
    quality, finger_quality, unscored, slap_quality = _quality(doc, where, {s.modality for s in steps})
    exceptions = _exceptions(doc, where)
    checks = _checks(doc, where, steps)
    return Policy(name=name, title=title, version=version, max_attempts=max_attempts,
                  quality=quality, finger_quality=finger_quality, unscored=unscored,
                  steps=steps, exceptions=exceptions, checks=checks, source=source,
                  slap_quality=slap_quality)


def _steps(doc: dict, where: str) -> tuple[Step, ...]:
    raw = doc.get("step")
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where}: needs at least one [[step]]")
    steps, seen_ids, seen_positions = [], set(), set()
    for i, entry in enumerate(raw, 1):
        at = f"{where} step {i}"
        if not isinstance(entry, dict):
            raise PolicyError(f"{at}: must be a table")
        _only(entry, _STEP, at)
        step_id = _str(entry, "id", at)
        if step_id in seen_ids or not step_id.replace("-", "").replace("_", "").isalnum():
            raise PolicyError(f"{at}: step id {step_id!r} is repeated or not made of letters, "
                              "digits, '-' and '_'")
        seen_ids.add(step_id)
        modality = _modality(entry, at)
        positions = entry.get("positions", [])
        if not isinstance(positions, list) or not all(type(p) is int for p in positions):
            raise PolicyError(f"{at}: positions must be a list of whole numbers")
        bad = [p for p in positions if p not in _VALID_POSITIONS[modality]]
        if bad:
            raise PolicyError(f"{at}: position(s) {bad} do not exist for {modality.value} "
                              f"(allowed: {sorted(_VALID_POSITIONS[modality]) or 'none'})")
        if modality is Modality.FINGERPRINT and not positions:
            raise PolicyError(f"{at}: a fingerprint step needs positions (1-10, or 13/14/15 slaps)")
        step = Step(step_id, modality, tuple(positions), _str(entry, "prompt", at, default=""))
        if step.is_slap and len(positions) != 1:
            raise PolicyError(f"{at}: a slap step takes exactly one slap position")
        for f in step.fingers:
            key = (modality, f, step.is_slap)
            if key in seen_positions:
                raise PolicyError(f"{at}: {modality.value} position {f} is already captured "
                                  "the same way by an earlier step")
            seen_positions.add(key)
        steps.append(step)
    return tuple(steps)


def _quality(doc, where, modalities):
    q = _table(doc, "quality", where, required=True)
    allowed = {m.value for m in Modality} | {"unscored", "finger", "fingerprint_slap"}
    _only(q, allowed, f"{where} [quality]")
    quality = {}
    for m in Modality:
        if m.value in q:
            quality[m] = _int(q, m.value, f"{where} [quality]", 0, 100)
        elif m in modalities:
            raise PolicyError(f"{where} [quality]: no threshold for {m.value}, which a step captures")
        else:
            quality[m] = 0
    unscored = _str(q, "unscored", f"{where} [quality]", default="operator")
    if unscored not in UNSCORED_RULES:
        raise PolicyError(f"{where} [quality]: unscored must be one of {UNSCORED_RULES}, "
                          f"got {unscored!r}")
    finger = q.get("finger", {})
    if not isinstance(finger, dict):
        raise PolicyError(f"{where} [quality.finger]: must be a table of finger code = score")
    finger_quality = {}
    for key in finger:
        if not key.isdigit() or not 1 <= int(key) <= 10:
            raise PolicyError(f"{where} [quality.finger]: {key!r} is not a finger code 1-10")
        finger_quality[int(key)] = _int(finger, key, f"{where} [quality.finger]", 0, 100)
    slap = _int(q, "fingerprint_slap", f"{where} [quality]", 0, 100) if "fingerprint_slap" in q else None
    return quality, finger_quality, unscored, slap


def _exceptions(doc, where) -> tuple[ExceptionCode, ...]:
    raw = doc.get("exception", [])
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: exception must be an array of tables ([[exception]])")
    out, seen = [], set()
    for i, entry in enumerate(raw, 1):
        at = f"{where} exception {i}"
        if not isinstance(entry, dict):
            raise PolicyError(f"{at}: must be a table")
        _only(entry, _EXCEPTION, at)
        code = _str(entry, "code", at)
        modality = _modality(entry, at)
        if "reason" not in entry or not str(entry.get("reason", "")).strip():
            raise PolicyError(f"{at}: exception code {code!r} has no reason",
                              hint="give every exception code a reason the record can carry")
        reason = _str(entry, "reason", at)
        if (code, modality) in seen:
            raise PolicyError(f"{at}: exception code {code!r} for {modality.value} is repeated")
        seen.add((code, modality))
        out.append(ExceptionCode(code, modality, reason.strip()))
    return tuple(out)


def _checks(doc, where, steps) -> Checks:
    c = _table(doc, "checks", where)
    _only(c, _CHECKS, f"{where} [checks]")
    sequence = c.get("sequence", True)
    if not isinstance(sequence, bool):
        raise PolicyError(f"{where} [checks]: sequence must be true or false")
    verify = c.get("verify_positions", [])
    if not isinstance(verify, list) or not all(type(p) is int and 1 <= p <= 10 for p in verify):
        raise PolicyError(f"{where} [checks]: verify_positions must be finger codes 1-10")
    alone = {p for s in steps if s.modality is Modality.FINGERPRINT and not s.is_slap
             for p in s.positions}
    missing = sorted(set(verify) - alone)
    if missing:
        raise PolicyError(f"{where} [checks]: verify_positions {missing} are not captured alone "
                          "by any step (the 1:1 check verifies against those)")
    fmrs = {}
    for key in ("verify_fmr", "duplicate_fmr"):
        value = c.get(key, 1e-4)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
            raise PolicyError(f"{where} [checks]: {key} must be a rate between 0 and 1")
        fmrs[key] = float(value)
    return Checks(sequence=sequence, verify_positions=tuple(verify), **fmrs)


# --- small typed readers ---------------------------------------------------------------------------
def _only(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _table(doc: dict, key: str, where: str, required: bool = False) -> dict:
    if key not in doc:
        if required:
            raise PolicyError(f"{where}: missing [{key}]")
        return {}
    value = doc[key]
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: [{key}] must be a table")
    return value


_MISSING: Any = object()


def _str(table: dict, key: str, where: str, default: Any = _MISSING) -> str:
    if key not in table:
        if default is _MISSING:
            raise PolicyError(f"{where}: missing field {key!r}")
        return default
    value = table[key]
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise PolicyError(f"{where}: {key} must be a non-empty text (at most 500 characters)")
    return value


def _int(table: dict, key: str, where: str, lo: int, hi: int, default: Any = _MISSING) -> int:
    if key not in table:
        if default is _MISSING:
            raise PolicyError(f"{where}: missing field {key!r}")
        return default
    value = table[key]
    if type(value) is not int or not lo <= value <= hi:
        raise PolicyError(f"{where}: {key} must be a whole number {lo}-{hi}, got {value!r}")
    return value


def _modality(entry: dict, where: str) -> Modality:
    value = _str(entry, "modality", where)
    try:
        return Modality(value)
    except ValueError:
        raise PolicyError(f"{where}: unknown modality {value!r} (one of "
                          f"{', '.join(m.value for m in Modality)})") from None

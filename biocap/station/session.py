"""The enrollment session: one resident, step by step, every accepted capture stored at once.

    session = EnrollmentSession.begin(sdk, policy, store, "3201-0001", operator="ani",
                                      capture_type=CaptureRecord)     # or .resume(...)
    while (prompt := session.next_step()) is not None:
        outcome = session.capture()          # on the policy's device (or session.submit(samples))
        if not outcome.accepted:
            show(outcome.problems)           # what to fix; then capture() again (a retake),
            if outcome.can_override:         # or, after the policy's attempts:
                session.override("reason")   # accept it with the operator's reason (stored)
            # or session.declare_exception(position, code, reason) for what cannot be captured
    summary = session.finish()               # complete, or every gap a declared exception

The store is the office's (`biocap.office.store.OfficeStore` or anything with its methods; the
station does not import the office: the app passes the store and its `CaptureRecord` type).
Each accepted capture is written before the call returns, so a crash loses at most the capture
in hand; `resume` rebuilds the session from the store and goes on where it stopped. A step is
written as units: one record per finger / eye / face / signature (`<step>:<position>`), a
slap's own image (`<step>`, position 13/14/15) first: a crash between a slap's writes is
repaired on resume by cutting the missing fingers again from the stored slap image (nothing
accepted is captured again), and a step's units are never doubled (one record per name).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol

from ..errors import BiocapError, NoProvider
from ..types import CaptureRequest, FingerPosition, IrisPosition, Modality, Sample
from .errors import SessionError, StoreConflict
from .policy import Policy, Step
from .segmentation import segment_slap
from .sequence import SequenceChecker
from .templates import face_token_record, template_records

VERIFY_STEP = "verify"
ISO_FINGER = "iso19794-2:2011"


class StationStore(Protocol):
    """The part of the office store the station uses (COORDINATION.md, `OfficeStore`)."""

    def begin_enrollment(self, subject: str, *, policy: str, operator: str) -> str: ...
    def open_enrollment(self, subject: str) -> str | None: ...
    def put_capture(self, enrollment_id: str, capture: Any) -> None: ...
    def put_exception(self, enrollment_id: str, step: str, modality: Modality, position: int,
                      code: str, reason: str) -> None: ...
    def captures(self, enrollment_id: str) -> list: ...
    def exceptions(self, enrollment_id: str) -> list: ...
    def finish_enrollment(self, enrollment_id: str, *, complete: bool, summary: dict) -> None: ...


@dataclass(frozen=True)
class Problem:
    code: str  # quality, not_found, unexpected_finger, sequence, verification, unscored, extract
    message: str
    position: int | None = None

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "position": self.position}


@dataclass(frozen=True)
class Prompt:
    step: Step
    positions: tuple[int, ...]  # what this capture must yield (declared exceptions left out)
    attempt: int  # the attempt about to be made (1-based)
    max_attempts: int
    text: str
    index: int  # step number (1-based) and of how many
    total: int


@dataclass
class Outcome:
    step: str
    accepted: bool
    problems: list[Problem]
    quality: dict[int, int | None]
    attempt: int
    can_override: bool
    stored: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    override_reason: str | None = None


@dataclass
class _Unit:
    """One record-to-be of a capture: a finger, an eye, the face, a slap image."""

    key: str
    modality: Modality
    position: int
    sample: Sample
    quality: dict | None
    templates: dict[str, bytes]
    template: Any = None


@dataclass
class _Pending:
    step: Step
    units: list[_Unit]
    problems: list[Problem]
    only_overridable: bool  # problems an operator may accept with a reason


class EnrollmentSession:
    def __init__(self, sdk, policy: Policy, store: StationStore, enrollment_id: str, subject: str,
                 *, capture_type: Callable[..., Any], devices: dict | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.sdk = sdk
        self.policy = policy
        self.store = store
        self.enrollment_id = enrollment_id
        self.subject = subject
        self.capture_type = capture_type
        self.devices = devices
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.attempts: dict[str, int] = {}
        self.pending: _Pending | None = None
        self.timings: dict[str, float] = {}
        self._checker: SequenceChecker | None = None
        self._reload()

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def begin(cls, sdk, policy: Policy, store: StationStore, subject: str, *, operator: str,
              capture_type: Callable[..., Any], check_devices: bool = True, **kw) -> "EnrollmentSession":
        """A new enrollment (a re-enrollment when the subject is in the store: the store keeps the
        history). Refused while the subject has an unfinished one: resume that."""
        devices = policy.check_devices(sdk.devices()) if check_devices else None
        if store.open_enrollment(subject) is not None:
            raise StoreConflict(f"{subject} has an unfinished enrollment",
                                hint="resume it (biocap enroll --resume) instead of starting anew")
        eid = store.begin_enrollment(subject, policy=_policy_tag(policy), operator=operator)
        return cls(sdk, policy, store, eid, subject, capture_type=capture_type, devices=devices, **kw)

    @classmethod
    def resume(cls, sdk, policy: Policy, store: StationStore, subject: str, *,
               capture_type: Callable[..., Any], check_devices: bool = True, **kw) -> "EnrollmentSession":
        devices = policy.check_devices(sdk.devices()) if check_devices else None
        eid = store.open_enrollment(subject)
        if eid is None:
            raise SessionError(f"{subject} has no unfinished enrollment to resume",
                               hint="start one: biocap enroll --subject ID")
        return cls(sdk, policy, store, eid, subject, capture_type=capture_type, devices=devices, **kw)

    def _reload(self) -> None:
        """Everything stored so far: which units are done, the fingers' templates."""
        self.captured = {c.step: c for c in self.store.captures(self.enrollment_id)}
        self.excepted = {e.step: e for e in self.store.exceptions(self.enrollment_id)}
        for step in self.policy.steps:
            if step.is_slap and step.id in self.captured and not self._step_done(step):
                self._repair(step)
        self.fingers: dict[int, Any] = {}  # position -> prepared template (accepted, any step)
        self.alone: dict[int, Any] = {}  # fingers captured alone: references of the 1:1 check
        for step in self.policy.steps:
            if step.modality is not Modality.FINGERPRINT or not self._step_done(step):
                continue
            for p in step.fingers:
                record = self.captured.get(_key(step, p))
                if record is not None and ISO_FINGER in record.templates:
                    t = self._decode_finger(record.templates[ISO_FINGER], p)
                    if t is not None:
                        self.fingers[p] = t
                        if not step.is_slap:
                            self.alone[p] = t

    def _repair(self, step: Step) -> None:
        """A slap stored without all its fingers (a crash between the writes): cut them again
        from the stored slap image (segmentation and extraction are deterministic, so they are
        the fingers that were accepted) and store the missing ones."""
        slap = self.captured[step.id]
        expected = tuple(p for p in step.fingers if _key(step, p) not in self.excepted)
        seg = segment_slap(slap.sample, slap=step.positions[0], expected=expected)
        for f in seg.fingers:
            key = _key(step, f.position)
            if key in self.captured or key in self.excepted or f.position not in expected:
                continue
            unit, _, _ = self._judge_one(step, f.sample, f.position, {})
            record = self.capture_type(step=key, modality=unit.modality, position=unit.position,
                                       sample=unit.sample, quality=unit.quality,
                                       templates=unit.templates,
                                       override_reason=slap.override_reason,
                                       captured_at=slap.captured_at)
            self.store.put_capture(self.enrollment_id, record)
            self.captured[key] = record

    def _slaps(self) -> list[dict[int, Any]]:
        """The accepted slaps' fingers, {position: template} per slap."""
        out = []
        for step in self.policy.steps:
            if step.is_slap and self._step_done(step):
                fingers = {p: self.fingers[p] for p in step.fingers
                           if p in self.fingers and _key(step, p) in self.captured}
                if fingers:
                    out.append(fingers)
        return out

    def _decode_finger(self, data: bytes, position: int):
        from ..templates.formats import decode
        record = decode(data)
        views = getattr(record, "views", None) or [record]
        try:
            return self.checker.prepare(views[0])
        except BiocapError:
            return None

    @property
    def checker(self) -> SequenceChecker:
        if self._checker is None:
            self._checker = SequenceChecker.from_comparator(self.sdk.comparator(Modality.FINGERPRINT))
        return self._checker

    # --- where we are ------------------------------------------------------------------------------
    def _units(self, step: Step) -> tuple[int, ...]:
        return step.fingers

    def _unit_done(self, step: Step, position: int) -> bool:
        key = _key(step, position)
        return key in self.captured or key in self.excepted

    def _step_done(self, step: Step) -> bool:
        units_done = all(self._unit_done(step, p) for p in self._units(step))
        if step.is_slap:
            all_excepted = all(_key(step, p) in self.excepted for p in self._units(step))
            return units_done and (step.id in self.captured or all_excepted)
        return units_done

    def _verify_step(self) -> Step | None:
        positions = tuple(p for p in self.policy.checks.verify_positions if p in self.alone)
        if not positions:
            return None
        return Step(VERIFY_STEP, Modality.FINGERPRINT, positions,
                    "desk check: the index finger(s) again, verified 1:1")

    def _all_steps(self) -> list[Step]:
        steps = list(self.policy.steps)
        if self.policy.checks.verify_positions:
            verify = self._verify_step() or Step(VERIFY_STEP, Modality.FINGERPRINT,
                                                 self.policy.checks.verify_positions, "")
            steps.append(verify)
        return steps

    def current_step(self) -> Step | None:
        for step in self.policy.steps:
            if not self._step_done(step):
                return step
        verify = self._verify_step()
        if verify is not None and not self._step_done(verify):
            return verify
        return None

    def remaining(self, step: Step) -> tuple[int, ...]:
        """The positions the next capture of `step` must yield."""
        if step.is_slap:  # a slap is taken whole; declared exceptions are expected to be absent
            return tuple(p for p in step.fingers if _key(step, p) not in self.excepted)
        return tuple(p for p in self._units(step) if not self._unit_done(step, p))

    def next_step(self) -> Prompt | None:
        step = self.current_step()
        if step is None:
            return None
        steps = self._all_steps()
        index = next(i for i, s in enumerate(steps, 1) if s.id == step.id)
        attempt = self.attempts.get(step.id, 0) + 1
        return Prompt(step, self.remaining(step), attempt, self.policy.max_attempts,
                      step.prompt or step.id, index, len(steps))

    @property
    def done(self) -> bool:
        return self.current_step() is None

    # --- capturing -----------------------------------------------------------------------------
    def capture(self, *, timeout_s: float = 10.0) -> Outcome:
        """Capture the current step on its device, then judge it (see `submit`)."""
        step = self._require_step()
        positions = self.remaining(step)
        if step.is_slap:
            positions = step.positions
        if not positions and step.modality is Modality.FINGERPRINT:
            raise SessionError(f"step {step.id}: every position is a declared exception")
        info = (self.devices or {}).get(step.modality)
        device_id = info.id if info is not None else step.modality.value
        threshold = 0 if step.is_slap else min(
            (self.policy.threshold(step.modality, p) for p in positions or (None,)), default=0)
        request = CaptureRequest(step.modality, positions=tuple(positions),
                                 quality_threshold=int(threshold), timeout_s=timeout_s)
        t0 = time.process_time()
        with self.sdk.open(device_id) as device:
            result = device.capture(request)
        self._time("capture " + step.modality.value, t0)
        return self.submit(result.samples)

    def submit(self, samples: Iterable[Sample]) -> Outcome:
        """Judge samples of the current step: quality, segmentation, templates, sequence check,
        1:1 check. Accepted: stored at once. Rejected: held, to be retaken or overridden."""
        step = self._require_step()
        samples = list(samples)
        if not samples or not all(isinstance(s, Sample) for s in samples):
            raise SessionError(f"step {step.id}: submit takes the captured Samples")
        self.attempts[step.id] = attempt = self.attempts.get(step.id, 0) + 1
        times: dict[str, float] = {}
        units, problems = self._judge(step, samples, times)
        overridable = all(p.code in ("quality", "unscored", "verification", "extract")
                          for p in problems)
        if not problems:
            stored = self._store(step, units, None)
            return Outcome(step.id, True, [], _qualities(units), attempt, False, stored, times)
        self.pending = _Pending(step, units, problems, overridable)
        unscored_only = all(p.code == "unscored" for p in problems)
        can = overridable and (attempt >= self.policy.max_attempts or unscored_only)
        return Outcome(step.id, False, problems, _qualities(units), attempt, can, [], times)

    def override(self, reason: str) -> Outcome:
        """Accept the capture in hand despite its problems, with the operator's reason (stored
        with every record of it). Only after the policy's attempts (at once for an unscored
        sample), and never for a missing/unexpected finger or a sequence problem."""
        if not isinstance(reason, str) or not reason.strip():
            raise SessionError("an override needs the operator's reason", hint="say why it is accepted")
        pending = self.pending
        if pending is None:
            raise SessionError("there is no rejected capture to override")
        step = pending.step
        attempt = self.attempts.get(step.id, 0)
        unscored_only = all(p.code == "unscored" for p in pending.problems)
        if not pending.only_overridable:
            raise SessionError(f"step {step.id}: " + "; ".join(p.message for p in pending.problems),
                               hint="these cannot be overridden: retake, or declare an exception")
        if attempt < self.policy.max_attempts and not unscored_only:
            raise SessionError(f"step {step.id}: override after {self.policy.max_attempts} "
                               f"attempts (this was attempt {attempt})", hint="retake first")
        text = reason.strip() + " [" + "; ".join(p.code for p in pending.problems) + "]"
        stored = self._store(step, pending.units, text)
        return Outcome(step.id, True, pending.problems, _qualities(pending.units), attempt, False,
                       stored, override_reason=text)

    def declare_exception(self, position: int, code: str, reason: str | None = None,
                          *, step: str | None = None) -> None:
        """Declare that `position` of a step (default: the current one, else the step that
        captures it) cannot be captured: a policy exception code, with a reason."""
        target = self.policy.step(step) if step else self._step_for(position)
        allowed = self.policy.exception(target.modality, code)  # raises for an unknown code
        text = (reason or "").strip() or allowed.reason
        if not text:
            raise SessionError("an exception needs a reason")
        if position not in self._units(target):
            raise SessionError(f"step {target.id} does not capture position {position}")
        key = _key(target, position)
        if key in self.captured:
            raise SessionError(f"{key} is already captured; it cannot become an exception")
        self.store.put_exception(self.enrollment_id, key, target.modality, int(position), code, text)
        self.excepted[key] = _Exc(key, target.modality, int(position), code, text)
        # the verify step needs a reference captured alone: an excepted index skips it
        if self.pending is not None and self.pending.step.id == target.id:
            self.pending = None

    def _step_for(self, position: int) -> Step:
        current = self.current_step()
        if current is not None and position in self._units(current):
            return current
        for s in self.policy.steps:
            if position in self._units(s) and not self._unit_done(s, position):
                return s
        raise SessionError(f"no step left that captures position {position}")

    def finish(self) -> dict:
        """Close the enrollment: complete when every unit is captured, else every gap must be a
        declared exception (otherwise SessionError: the enrollment stays open to resume)."""
        gaps = []
        for step in self.policy.steps:
            for p in self._units(step):
                if not self._unit_done(step, p):
                    gaps.append(_key(step, p))
            if step.is_slap and not self._step_done(step):
                gaps.append(step.id)
        verify = self._verify_step()
        if verify is not None and not self._step_done(verify):
            gaps += [_key(verify, p) for p in verify.positions if not self._unit_done(verify, p)]
        if gaps:
            raise SessionError(f"enrollment of {self.subject} is not finished: {', '.join(gaps)} "
                               "neither captured nor declared exceptions",
                               hint="capture them or declare exceptions; the enrollment stays open")
        complete = not self.excepted
        summary = self.summary(complete)
        t0 = time.process_time()
        duplicate = self.duplicate_check()
        self._time("duplicate check", t0)
        if duplicate is not None:
            summary["duplicate_check"] = duplicate
        self.store.finish_enrollment(self.enrollment_id, complete=complete, summary=summary)
        return summary

    def duplicate_check(self) -> dict | None:
        """Desk-side person-level 1:N against this office's own store (its other residents'
        latest finished records): fingers and irises fused into one candidate list with one
        decision at the policy's `duplicate_fmr`. None when the store cannot list residents."""
        from ..matching.person import PersonGallery
        subjects = getattr(self.store, "subjects", None)
        record = getattr(self.store, "record", None)
        if not callable(subjects) or not callable(record):
            return None
        gallery = PersonGallery()
        items = []
        for other in subjects():
            if other == self.subject:
                continue
            try:
                rec = record(other, finished_only=True)
            except BiocapError:
                continue  # nothing finished yet
            person = _person(rec.captures)
            if person is not None:
                items.append((other, person))
        if items:
            gallery.add_many(items)
        probe = _person(self.captured.values())
        fmr = self.policy.checks.duplicate_fmr
        if probe is None or not len(gallery):
            return {"decision": "unique", "residents_searched": len(gallery), "fmr": fmr,
                    "candidates": []}
        result = gallery.search(probe, fmr=(fmr, fmr))
        out = result.to_dict()
        out["residents_searched"] = len(gallery)
        return out

    def summary(self, complete: bool | None = None) -> dict:
        caps = sorted(self.captured.values(), key=lambda c: c.step)
        return {
            "policy": _policy_tag(self.policy), "complete": complete,
            "captures": len(caps),
            "fingers": sorted(c.position for c in caps if c.modality is Modality.FINGERPRINT
                              and ":" in c.step and not c.step.startswith(VERIFY_STEP)),
            "exceptions": [{"step": e.step, "position": e.position, "code": e.code,
                            "reason": e.reason} for e in self.excepted.values()],
            "overrides": [{"step": c.step, "reason": c.override_reason} for c in caps
                          if c.override_reason],
            "verification": [c.quality.get("verification") for c in caps
                             if c.step.startswith(VERIFY_STEP + ":") and c.quality],
        }

    # --- judging -------------------------------------------------------------------------------
    def _judge(self, step: Step, samples: list[Sample], times: dict) -> tuple[list[_Unit], list[Problem]]:
        problems: list[Problem] = []
        units: list[_Unit] = []
        if step.is_slap:
            if len(samples) != 1:
                raise SessionError(f"step {step.id}: a slap is one image, got {len(samples)}")
            slap = samples[0]
            t0 = time.process_time()
            expected = set(self.remaining(step))
            seg = segment_slap(slap, slap=step.positions[0], expected=tuple(expected))
            self._time("segment", t0, times)
            for p in seg.missing:
                if p in expected:
                    problems.append(Problem("not_found", f"{_finger(p)} not found in the slap: "
                                            "place all fingers flat, or declare an exception", p))
            singles = []
            for f in seg.fingers:
                if f.position not in expected:
                    problems.append(Problem("unexpected_finger", f"a finger prints where the "
                                            f"{_finger(f.position)} was declared missing: check "
                                            "the hand and the declared exceptions", f.position))
                    continue
                singles.append(f.sample)
            units.append(_Unit(step.id, Modality.FINGERPRINT, step.positions[0], slap,
                               {"segmentation": {"fingers": {str(f.position): f.box.to_json()
                                                             for f in seg.fingers},
                                                 "missing": list(seg.missing)}}, {}))
        else:
            singles = samples
            wanted = set(self.remaining(step))
            for s in samples:
                pos = int(s.position or 0)
                if step.modality in (Modality.FINGERPRINT, Modality.IRIS) and pos not in wanted:
                    raise SessionError(f"step {step.id}: got position {pos}, expected "
                                       f"{sorted(wanted)}")
        fingers_new: dict[int, Any] = {}
        for s in singles:
            pos = int(s.position or 0)
            unit, template, unit_problems = self._judge_one(step, s, pos, times)
            units.insert(len(units) - 1 if step.is_slap else len(units), unit)
            problems += unit_problems
            if step.modality is Modality.FINGERPRINT and template is not None:
                fingers_new[pos] = template
        if step.modality is Modality.FINGERPRINT and fingers_new:
            t0 = time.process_time()
            if step.id == VERIFY_STEP:
                problems += self._verify(fingers_new, units)
            elif self.policy.checks.sequence:
                if step.is_slap:
                    findings = self.checker.check_slap(fingers_new, self.alone)
                else:
                    findings = []
                    for p, t in fingers_new.items():
                        findings += self.checker.check_single(p, t, self.alone, self._slaps())
                for finding in findings:
                    problems.append(Problem("sequence", finding.message, finding.position))
            self._time("sequence check" if step.id != VERIFY_STEP else "verify 1:1", t0, times)
        return units, problems

    def _judge_one(self, step: Step, sample: Sample, pos: int, times: dict):
        problems: list[Problem] = []
        t0 = time.process_time()
        provider = self.sdk.quality_provider(step.modality)
        quality: dict[str, Any] = {}
        if provider is None:
            quality = {"score": None, "provider": None}
            if self.policy.unscored == "operator":
                problems.append(Problem("unscored", f"no quality provider for {step.modality.value}"
                                        ": the operator must confirm this capture", pos))
        else:
            report = self.sdk.assess(sample)
            quality = {"score": report.score, "provider": report.provider,
                       "feedback": [f.code for f in report.feedback]}
            if step.modality is Modality.FACE:  # the ISO/IEC 29794-5 components behind the score
                quality["report"] = report.to_json()
            limit = self.policy.threshold(step.modality, pos if step.modality is Modality.FINGERPRINT
                                          else None, slap=step.is_slap)
            if report.score is None or report.score < limit:
                hint = report.hint or "retake"
                problems.append(Problem("quality", f"{_what(step.modality, pos)}: quality "
                                        f"{report.score} below {limit}: {hint}", pos))
        self._time("quality " + step.modality.value, t0, times)
        t0 = time.process_time()
        templates: dict[str, bytes] = {}
        prepared = None
        try:
            template = self.sdk.extract(sample)
        except NoProvider:
            template = None
        except BiocapError as exc:
            template = None
            problems.append(Problem("extract", f"{_what(step.modality, pos)}: no template: {exc}", pos))
        if template is not None:
            if step.modality is Modality.FINGERPRINT:
                template.position = pos
                prepared = self.checker.prepare(template)
                if not getattr(prepared, "enrollable", True):
                    problems.append(Problem("extract", f"{_finger(pos)}: too few minutiae "
                                            f"({len(template)}): press flat and retake", pos))
            try:
                templates = template_records(step.modality, template)
                if step.modality is Modality.FACE:
                    templates.update(face_token_record(sample))
            except BiocapError as exc:  # e.g. a finger view without minutiae
                if not any(p.code == "extract" for p in problems):
                    problems.append(Problem("extract", f"{_what(step.modality, pos)}: the "
                                            f"template cannot be recorded: {exc}", pos))
        self._time("extract " + step.modality.value, t0, times)
        return (_Unit(_key(step, pos), step.modality, pos, sample, quality, templates, prepared),
                prepared, problems)

    def _verify(self, probes: dict[int, Any], units: list[_Unit]) -> list[Problem]:
        from ..enrollment import decision_threshold
        threshold, fmr = decision_threshold(self.sdk, Modality.FINGERPRINT, self.policy.checks.verify_fmr)
        problems = []
        for unit in units:
            p = unit.position
            if p not in probes:
                continue
            score = float(self.checker.comparator.compare(probes[p], self.alone[p]))
            ok = score >= threshold
            unit.quality = dict(unit.quality or {}, verification={
                "position": p, "score": score, "threshold": threshold, "fmr": fmr, "accepted": ok})
            if not ok:
                problems.append(Problem("verification", f"{_finger(p)} does not match the one "
                                        f"just enrolled (score {score:.4f} < {threshold:.4f}): "
                                        "retake", p))
        return problems

    # --- storing -------------------------------------------------------------------------------
    def _store(self, step: Step, units: list[_Unit], override: str | None) -> list[str]:
        """Write the units, the slap's own image first: a crash after it leaves a slap whose
        missing fingers are cut again from the stored image on resume (`_repair`)."""
        t0 = time.process_time()
        stored = []
        ordered = sorted(units, key=lambda u: u.key != step.id)  # the slap image first
        for unit in ordered:
            record = self.capture_type(step=unit.key, modality=unit.modality, position=unit.position,
                                       sample=unit.sample, quality=unit.quality,
                                       templates=unit.templates, override_reason=override,
                                       captured_at=self.clock())
            self.store.put_capture(self.enrollment_id, record)
            self.captured[unit.key] = record
            stored.append(unit.key)
        for unit in units:
            if unit.modality is Modality.FINGERPRINT and unit.template is not None and \
                    unit.key != step.id and step.id != VERIFY_STEP:
                self.fingers[unit.position] = unit.template
                if not step.is_slap:
                    self.alone[unit.position] = unit.template
        self.pending = None
        self._time("store", t0)
        return stored

    # --- helpers -------------------------------------------------------------------------------
    def _require_step(self) -> Step:
        step = self.current_step()
        if step is None:
            raise SessionError("every step is done: finish the enrollment")
        return step

    def _time(self, name: str, t0: float, into: dict | None = None) -> None:
        dt = time.process_time() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt
        if into is not None:
            into[name] = into.get(name, 0.0) + dt


def _person(captures: Iterable[Any]):
    """A resident's fingers (from the ISO records; a finger alone preferred to the same finger
    cut from a slap) and irises (iris codes) as the person gallery's templates."""
    from ..matching.person import PersonTemplates
    from ..templates.formats import decode
    from ..templates.iris.template import IrisTemplate
    iris_format = f"biocap-iris:{IrisTemplate.__name__}"  # as template_format names it
    fingers: dict[int, Any] = {}
    alone: set[int] = set()
    irises: dict[int, tuple] = {}
    for c in captures:
        if ":" not in c.step or c.step.startswith(VERIFY_STEP + ":"):
            continue
        try:
            if c.modality is Modality.FINGERPRINT and ISO_FINGER in c.templates:
                p = int(c.position)
                is_alone = "segmented_from" not in (c.sample.metadata or {})
                if p in fingers and (p in alone or not is_alone):
                    continue
                record = decode(c.templates[ISO_FINGER])
                views = getattr(record, "views", None) or [record]
                views[0].position = p
                fingers[p] = views[0]
                if is_alone:
                    alone.add(p)
            elif c.modality is Modality.IRIS and iris_format in c.templates:
                t = IrisTemplate.from_bytes(c.templates[iris_format])
                irises[int(c.position)] = (t.code, t.mask)
        except BiocapError:
            continue  # a damaged or unusual record: searched without it
    if not fingers and not irises:
        return None
    return PersonTemplates(fingers=fingers, irises=irises)


@dataclass(frozen=True)
class _Exc:
    step: str
    modality: Modality
    position: int
    code: str
    reason: str


def _key(step: Step, position: int) -> str:
    return f"{step.id}:{int(position)}"


def _policy_tag(policy: Policy) -> str:
    return f"{policy.name}@{policy.version}"


def _finger(p: int) -> str:
    return FingerPosition(p).name.lower().replace("_", " ")


def _what(modality: Modality, pos: int) -> str:
    if modality is Modality.FINGERPRINT:
        return _finger(pos)
    if modality is Modality.IRIS:
        return f"{IrisPosition(pos).name.lower()} iris"
    return modality.value


def _qualities(units: list[_Unit]) -> dict[int, int | None]:
    return {u.position: u.quality["score"] for u in units if u.quality and "score" in u.quality}

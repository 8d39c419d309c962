"""Deterministic faults for the simulated sensors, settable from code or `BIOCAP_SIM_FAULTS`.

Grammar: `DEVICE=KIND@K[*N][,KIND@K[*N]...][;DEVICE=...]`, e.g.
`BIOCAP_SIM_FAULTS="fingerprint=unplug@3;iris=timeout@1,corrupt@6*2"`. DEVICE is the modality
name of a simulated sensor; K counts the device's bulk transfers (writes and reads, from 1, since
the device was plugged in); N (default 1) is how many times the fault fires. What each kind does,
and the biocap error it gives, is in PROTOCOL.md ("Faults"). Byte positions of corruptions come
from the device's seeded generator, so a seed reproduces a run.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

ENV_FAULTS = "BIOCAP_SIM_FAULTS"

#: faults acting on the transfer they are scheduled at (or, for corrupt, the next chunk reply)
TRANSFER_KINDS = ("unplug", "timeout", "busy", "slow", "corrupt")
#: faults acting on the presentations that start at or after their transfer
PRESENTATION_KINDS = ("nopresent", "poor")
KINDS = TRANSFER_KINDS + PRESENTATION_KINDS
DEVICES = ("fingerprint", "iris", "face", "signature")

_FAULT = re.compile(r"^(?P<kind>[a-z]+)(?:@(?P<at>\d+))?(?:\*(?P<count>\d+))?$")


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    kind: str
    at: int = 1
    count: int = 1
    fired: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.at < 1 or self.count < 1:
            raise FaultSpecError(f"fault {self.kind}: transfer and count must be >= 1")

    @property
    def spent(self) -> bool:
        return self.fired >= self.count


class FaultPlan:
    """The pending faults of one device. `take(kind, transfer)` consumes one firing if due."""

    def __init__(self, faults: list[Fault] | tuple[Fault, ...] = ()):
        self.faults = list(faults)

    @classmethod
    def parse_one(cls, text: str) -> "FaultPlan":
        faults = []
        for item in filter(None, (s.strip() for s in text.split(","))):
            m = _FAULT.match(item)
            if not m:
                raise FaultSpecError(f"cannot read fault {item!r} (expected KIND@K or KIND@K*N)")
            faults.append(Fault(m["kind"], int(m["at"] or 1), int(m["count"] or 1)))
        return cls(faults)

    def take(self, kind: str, transfer: int) -> bool:
        for fault in self.faults:
            if fault.kind == kind and not fault.spent and transfer >= fault.at:
                fault.fired += 1
                return True
        return False

    def pending(self) -> list[Fault]:
        return [f for f in self.faults if not f.spent]

    def __bool__(self) -> bool:
        return bool(self.pending())


def parse_faults(spec: str) -> dict[str, FaultPlan]:
    """`"fingerprint=unplug@3;iris=timeout@1"` -> {device: FaultPlan}."""
    plans: dict[str, FaultPlan] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(";"))):
        device, sep, faults = part.partition("=")
        device = device.strip()
        if not sep or device not in DEVICES:
            raise FaultSpecError(f"cannot read {part!r}: expected DEVICE=KIND@K with DEVICE one of "
                                 f"{', '.join(DEVICES)}")
        plans[device] = FaultPlan(plans.get(device, FaultPlan()).faults
                                  + FaultPlan.parse_one(faults).faults)
    return plans


def env_faults() -> dict[str, FaultPlan]:
    return parse_faults(os.environ.get(ENV_FAULTS, ""))

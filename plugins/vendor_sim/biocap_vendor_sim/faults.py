"""Deterministic faults for the simulated sensors, settable from code or `BIOCAP_SIM_FAULTS`.

Grammar: `DEVICE=KIND@K[*N][,KIND@K[*N]...][;DEVICE=...]`, e.g.
`BIOCAP_SIM_FAULTS="fingerprint=unplug@3;iris=timeout@1,corrupt@6*2"`. DEVICE is the modality
name of a simulated sensor; K counts the device's bulk transfers (writes and reads, from 1, since
the device was plugged in); N (default 1) is how many times the fault fires. The transfer kinds
are those of biocap's fault bus (`biocap.plugins.faultbus`), which acts on them; the presentation
kinds are the simulated subject's, which the firmware takes. What each does, and the biocap error
it gives, is in PROTOCOL.md ("Faults"). Byte positions of corruptions come from the device's
seeded generator, so a seed reproduces a run.
"""
from __future__ import annotations

import os

from biocap.plugins.faultbus import Fault, FaultPlan, FaultSpecError

ENV_FAULTS = "BIOCAP_SIM_FAULTS"

#: faults acting on the transfer they are scheduled at (corrupt and short: on the next chunk
#: reply), by the names PROTOCOL.md uses (`unplug` is the fault bus's `disconnect`)
TRANSFER_KINDS = ("unplug", "timeout", "stall", "busy", "slow", "corrupt", "short")
#: faults acting on the presentations that start at or after their transfer
PRESENTATION_KINDS = ("nopresent", "poor")
KINDS = TRANSFER_KINDS + PRESENTATION_KINDS
#: what a plan may hold (the fault bus's names)
PLAN_KINDS = ("disconnect",) + TRANSFER_KINDS[1:] + PRESENTATION_KINDS
DEVICES = ("fingerprint", "iris", "face", "signature")

__all__ = ["Fault", "FaultPlan", "FaultSpecError", "KINDS", "parse_faults", "env_faults"]


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
                                  + FaultPlan.parse(faults, PLAN_KINDS).faults)
    return plans


def env_faults() -> dict[str, FaultPlan]:
    return parse_faults(os.environ.get(ENV_FAULTS, ""))

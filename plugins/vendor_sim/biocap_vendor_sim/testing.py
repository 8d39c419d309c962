"""Helpers for tests and benchmarks: an SDK over a private emulated bus (own seed and faults)."""
from __future__ import annotations

from biocap.plugins.hookspecs import hookimpl

from .backend import SimBackend
from .plugin import make_bus


class SimDriversPlugin:
    """Only the simulator's drivers (no shared bus), for SDKs built around a private bus."""

    @hookimpl
    def biocap_drivers(self):
        from .drivers import DRIVERS
        return list(DRIVERS)


def sim_sdk(*, plugins=(), load_entry_points: bool = False, bus_name: str = "sim-private",
            **backend_options):
    """(SDK, SimBackend): an SDK with one fresh emulated bus of its own (named apart from the
    shared "sim" bus, which it also sees when `load_entry_points`). Backend options: seed,
    faults ("fingerprint=unplug@3" or {modality: FaultPlan}), sources, modalities."""
    from biocap.sdk import SDK
    backend_options.setdefault("faults", {})
    bus = make_bus(bus_name, **backend_options)
    sdk = SDK(plugins=[SimDriversPlugin(), *plugins], extra_buses=[bus],
              load_entry_points=load_entry_points)
    assert isinstance(bus.backend, SimBackend)
    return sdk, bus.backend

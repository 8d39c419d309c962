"""biocap-vendor-sim: four emulated USB biometric sensors behind an in-process pyusb backend.

`plugin` registers the drivers and the emulated bus with biocap (entry point `vendor_sim`);
`make_bus()` builds an independent bus for tests and benchmarks (own seed, faults, sources).
"""
from .backend import SimBackend, VENDOR_ID  # noqa: F401
from .faults import FaultPlan, parse_faults  # noqa: F401
from .plugin import make_bus, shared_bus  # noqa: F401

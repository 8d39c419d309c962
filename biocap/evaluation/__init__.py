"""Evaluation protocols and metrics (EER, FMR100, DET, ERC) that benchmarks and integrators use."""
from .metrics import ErrorRates, error_rates  # noqa: F401

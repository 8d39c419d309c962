"""Quality assessment: one module per modality, each returning a QualityReport."""
from .report import Feedback, Measure, QualityReport, QualityProvider  # noqa: F401

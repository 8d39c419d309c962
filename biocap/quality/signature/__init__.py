"""Signature quality: `SignatureQuality` (one signature, 0-100 with feedback) and
`assess_enrolment_set` (are the 3-5 enrolment signatures alike enough)."""
from .consistency import ConsistencyReport, assess_enrolment_set  # noqa: F401
from .provider import SignatureQuality, pen_measures  # noqa: F401

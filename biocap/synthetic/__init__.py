"""Synthetic biometric data with known ground truth (SFinGe-style fingerprints first).

`fingerprint/` renders master fingerprints and their impressions as images; `fingerprint/templates.py`
produces impressions directly as minutiae templates, fast enough to fill a 1:N gallery.
"""

"""Fingerprint minutiae extraction, as a short pipeline of named, observable stages.

    from biocap.templates.fingerprint import extract_template, trace_extraction
    template = extract_template(sample)                # FingerprintTemplate
    trace = trace_extraction(sample)                   # every intermediate, by stage name
    extract_template(sample, observer=lambda name, value: ...)

Stages (one module each): resolution -> segmentation -> normalization -> orientation -> frequency
-> enhancement -> binarization -> thinning -> skeleton_graph -> minutiae -> filtering -> quality
-> singular_points -> template. Overlays: `biocap.templates.fingerprint.overlay.draw_minutiae`.
"""
from .extractor import FingerprintExtractor
from .pipeline import STAGES, ExtractionTrace, extract_template, trace_extraction

__all__ = ["FingerprintExtractor", "ExtractionTrace", "STAGES", "extract_template",
           "trace_extraction"]

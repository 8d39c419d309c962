"""biocap's own algorithms, registered through the public hooks like any third-party plugin."""
from __future__ import annotations

import importlib

from .plugins.hookspecs import hookimpl


def _instances(*targets: str) -> list:
    """Instantiate `module:Class` targets. Every target is part of this build: a missing or broken
    module raises, and the plugin manager reports it under the hook's name (`SDK.problems`);
    nothing is skipped silently."""
    found = []
    for target in targets:
        module_name, cls_name = target.split(":")
        found.append(getattr(importlib.import_module(module_name), cls_name)())
    return found


@hookimpl
def biocap_quality_providers():
    return _instances("biocap.quality.fingerprint:FingerprintQuality",
                      "biocap.quality.iris:IrisQuality",
                      "biocap.quality.signature:SignatureQuality")


@hookimpl
def biocap_extractors():
    return _instances("biocap.templates.fingerprint:FingerprintExtractor",
                      "biocap.templates.iris:IrisExtractor",
                      "biocap.templates.signature:SignatureExtractor")


@hookimpl
def biocap_comparators():
    return _instances("biocap.matching.fingerprint:FingerprintComparator",
                      "biocap.matching.iris:IrisComparator",
                      "biocap.matching.signature:SignatureComparator")

"""Issue 23: the template (and every record written from it) holds the interoperable minutiae,
ordered by x then y; a vendor block marks the subset biocap-mcc uses, and it survives the records."""
from __future__ import annotations

import numpy as np
import pytest

from biocap.matching.fingerprint import FingerprintComparator, mcc
from biocap.templates.fingerprint.filtering import INTERCHANGE_KEEPS
from biocap.templates.fingerprint.params import BORDER_PERIODS, INTERCHANGE_BORDER_PERIODS
from biocap.templates.fingerprint.pipeline import trace_extraction
from biocap.templates.fingerprint.template import (MATCHER_SUBSET_BLOCK, FingerprintTemplate,
                                                   matcher_minutiae, matcher_subset_block,
                                                   minutiae_array)
from biocap.templates.formats import FingerprintRecord, decode, encode
from biocap.types import Sample


@pytest.fixture(scope="module")
def traced(synthetic_prints):
    return [trace_extraction(Sample(img, 500, "fingerprint")) for img in synthetic_prints.values()]


def test_template_holds_interchange_set_in_xy_order_and_marks_matcher_subset(traced):
    for trace in traced:
        t, verdict = trace.template, trace.filtering
        near_border = (verdict.reason == "border") & (verdict.border_distance >= INTERCHANGE_BORDER_PERIODS)
        record = verdict.kept | np.isin(verdict.reason, INTERCHANGE_KEEPS) | near_border
        assert np.array_equal(record, verdict.interchange)
        assert len(t) == int(record.sum())
        # the border rejects a record keeps lie between the two margins, none on the outline
        d = verdict.border_distance[near_border]
        assert ((d >= INTERCHANGE_BORDER_PERIODS) & (d < BORDER_PERIODS)).all()
        order = np.lexsort((t.minutiae["y"], t.minutiae["x"]))
        assert np.array_equal(order, np.arange(len(t)))
        assert len(matcher_minutiae(t)) == int(verdict.kept.sum())
        assert len(trace.quality) == len(t)


def test_matcher_subset_survives_iso_and_ansi_records(traced):
    cmp = FingerprintComparator()
    t = max((tr.template for tr in traced), key=lambda t: len(t) - len(matcher_minutiae(t)))
    assert len(matcher_minutiae(t)) < len(t), "no generated print with a left-out minutia"
    for fmt in ("iso19794-2:2011", "iso19794-2:2005", "ansi378:2009"):
        view = decode(encode(FingerprintRecord(format=fmt, views=[t]), fmt)).views[0]
        assert len(view) == len(t)
        assert len(matcher_minutiae(view)) == len(matcher_minutiae(t)), fmt
        a, b = mcc.matching_frame(view), mcc.matching_frame(t)
        assert a.shape == b.shape and np.allclose(a[:, :2], b[:, :2], atol=1.0), fmt
    # biocap-mcc scores the record of a template as it scores the template
    rec = encode(FingerprintRecord(format="iso19794-2:2011", views=[t]), "iso19794-2:2011")
    other = traced[0].template if traced[0].template is not t else traced[1].template
    assert abs(cmp.compare(rec, other) - cmp.compare(t, other)) < 0.05


def test_matcher_subset_block_is_ignored_when_it_does_not_fit():
    m = minutiae_array([(10 + 20 * i, 50, 0.5, 1, 60) for i in range(10)])
    use = np.zeros(10, bool)
    use[:4] = True
    t = FingerprintTemplate(m, 300, 300, 500, extended={"vendor_blocks": [matcher_subset_block(use)]})
    assert len(matcher_minutiae(t)) == 4
    for data in (b"", b"\xff\xff\xff", "not bytes"):
        bad = FingerprintTemplate(m, 300, 300, 500, extended={
            "vendor_blocks": [{"type": MATCHER_SUBSET_BLOCK, "data": data}]})
        assert len(matcher_minutiae(bad)) == 10
    other = FingerprintTemplate(m, 300, 300, 500, extended={
        "vendor_blocks": [{"type": 0x0101, "data": b"\x00\x00"}]})
    assert len(matcher_minutiae(other)) == 10

"""Sequence check rules on a stand-in comparator (templates are finger identities)."""
from biocap.station.sequence import RATIO, SequenceChecker


class Identity:
    """Scores 0.05 for the same finger, 0.0003 otherwise; templates are (finger id) ints."""

    def compare(self, a, b):
        return 0.05 if a == b else 0.0003

    def threshold_for_fmr(self, fmr):
        return {1e-1: 0.0008, 1e-4: 0.0025}[fmr]


checker = SequenceChecker.from_comparator(Identity())
RIGHT = {2: "R2", 3: "R3", 4: "R4", 5: "R5"}
LEFT = {7: "L7", 8: "L8", 9: "L9", 10: "L10"}
SINGLES = {2: "R2", 7: "L7"}


def kinds(findings):
    return sorted(f.kind for f in findings)


def test_clean_slaps_raise_nothing():
    assert checker.check_slap(RIGHT, SINGLES) == []
    assert checker.check_slap(LEFT, SINGLES) == []
    assert checker.check_slap({1: "R1", 6: "L6"}, SINGLES) == []
    assert checker.check_single(7, "L7", {2: "R2"}) == []


def test_wrong_hand_on_a_slap():
    # the left hand on the right-four slap: slots named 2..5 hold left little..index
    wrong = {2: "L10", 3: "L9", 4: "L8", 5: "L7"}
    found = checker.check_slap(wrong, SINGLES)
    assert "mismatch" in kinds(found) and "out_of_place" in kinds(found)
    assert any("left index captured alone" in f.message for f in found)


def test_same_hand_twice_and_wrong_finger_alone():
    again = {10: "R2", 9: "R3", 8: "R4", 7: "R5"}  # the right hand for the left-four slap
    assert checker.check_slap(again, SINGLES)
    assert checker.check_slap(RIGHT, {2: "R3", 7: "L7"})  # the middle finger as index alone


def test_finger_placed_twice_alone():
    found = checker.check_single(7, "R2", {2: "R2"})
    assert kinds(found) == ["duplicate"] and "placed twice" in found[0].message


def test_a_weak_genuine_is_not_out_of_place_unless_clearly_beaten():
    class Weak(Identity):
        def compare(self, a, b):
            if {a, b} == {"R2", "R2x"}:
                return 0.0012  # a poor but genuine pair
            if {a, b} == {"R2", "R3"}:
                return 0.0026  # an impostor just over the duplicate threshold
            return super().compare(a, b)

    weak = SequenceChecker.from_comparator(Weak())
    slap = {2: "R2x", 3: "R3", 4: "R4", 5: "R5"}
    assert 0.0026 < RATIO * 0.0012
    assert weak.check_slap(slap, {2: "R2"}) == []

"""Policy files: the shipped e-KTP policy, and one clear PolicyError per kind of bad input."""
import pytest

from biocap.station.errors import PolicyError
from biocap.station.policy import load_policy, parse_policy, shipped_policies
from biocap.types import DeviceInfo, Modality

GOOD = """
[programme]
name = "mini"
[quality]
fingerprint = 40
[[step]]
id = "index"
modality = "fingerprint"
positions = [2]
[[exception]]
code = "XX"
modality = "fingerprint"
reason = "amputated"
"""


def test_ektp_is_shipped_and_complete():
    assert "ektp" in shipped_policies()
    p = load_policy("ektp")
    fingers = sorted(f for s in p.steps if s.is_slap for f in s.fingers)
    assert fingers == list(range(1, 11))  # 4-4-2 slaps yield all ten
    assert {s.modality for s in p.steps} == set(Modality)
    assert p.threshold(Modality.FINGERPRINT, 5) == 25 and p.threshold(Modality.FINGERPRINT, 2) == 40
    assert p.threshold(Modality.FINGERPRINT, 3, slap=True) == 30
    assert p.exception(Modality.FINGERPRINT, "UP").reason
    assert p.checks.verify_positions == (2, 7)


@pytest.mark.parametrize("text, words", [
    (GOOD.replace('name = "mini"', 'name = "mini"\ncolour = "red"'), "unknown field"),
    (GOOD.replace('reason = "amputated"', ''), "has no reason"),
    (GOOD.replace('reason = "amputated"', 'reason = "  "'), "has no reason"),
    (GOOD.replace('modality = "fingerprint"\npositions', 'modality = "palm"\npositions'), "unknown modality"),
    (GOOD.replace("positions = [2]", "positions = [11]"), "do not exist"),
    (GOOD.replace("fingerprint = 40", "fingerprint = 400"), "0-100"),
    (GOOD.replace("[quality]\nfingerprint = 40", "[quality]"), "no threshold"),
    ("not toml [", "not valid TOML"),
])
def test_bad_policies_are_one_clear_error(text, words):
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert words in str(err.value)


def test_a_modality_no_device_offers_is_refused_before_capture():
    p = load_policy("ektp")
    fp = DeviceInfo("sim:1", Modality.FINGERPRINT, "v", "m", "s", 1, 1, "sim", "d",
                    positions=tuple(range(11)) + (13, 14, 15))
    with pytest.raises(PolicyError) as err:
        p.check_devices([fp])
    assert "iris: no attached device" in str(err.value) and "face" in str(err.value)
    single_only = DeviceInfo("sim:2", Modality.FINGERPRINT, "v", "m", "s", 1, 1, "sim", "d",
                             positions=(2, 7))
    with pytest.raises(PolicyError, match="no device captures position"):
        parse_policy(GOOD.replace("positions = [2]", "positions = [13]")).check_devices([single_only])


def test_unknown_policy_name():
    with pytest.raises(PolicyError, match="not a shipped policy"):
        load_policy("atlantis")

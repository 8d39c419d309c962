"""Plugin manager isolation as the SDK relies on it: one broken plugin never hides the others."""
from biocap.plugins.hookspecs import hookimpl
from biocap.plugins.manager import PluginManager


class Good:
    @hookimpl
    def biocap_extractors(self):
        return ["good"]


class Raises:
    @hookimpl
    def biocap_extractors(self):
        raise KeyError("boom")


class ReturnsJunk:
    @hookimpl
    def biocap_extractors(self):
        return 42


def test_each_hook_implementation_is_called_on_its_own():
    pm = PluginManager(load_entry_points=False)
    for plugin, name in ((Good(), "good"), (Raises(), "raises"), (ReturnsJunk(), "junk")):
        pm.register(plugin, name=name)
    assert pm.collect("biocap_extractors") == ["good"]
    problems = {p.plugin: p for p in pm.problems}
    assert set(problems) == {"raises", "junk"}
    assert problems["raises"].stage == "biocap_extractors" and "boom" in problems["raises"].error


def test_duplicate_registration_is_a_problem_not_a_crash():
    pm = PluginManager(load_entry_points=False)
    pm.register(Good(), name="same")
    assert pm.register(Good(), name="same") == ""
    assert any(p.plugin == "same" and p.stage == "register" for p in pm.problems)


def test_the_simulator_entry_point_is_installed():
    pm = PluginManager()
    assert "vendor_sim" in pm.plugin_names
    names = [d.name for d in pm.collect("biocap_drivers")]
    assert {"sim-fingerprint", "sim-iris", "sim-face", "sim-signature"} <= set(names)

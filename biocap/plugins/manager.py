"""Finding plugins and asking them for contributions without letting one broken plugin break all."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs

log = logging.getLogger("biocap.plugins")

ENTRY_POINT_GROUP = "biocap"


@dataclass(frozen=True)
class PluginProblem:
    plugin: str
    stage: str  # "load" or the hook's name
    error: str

    def __str__(self) -> str:
        if self.stage == "driver conflict":
            return f"driver conflict: {self.plugin} is {self.error}"
        return f"plugin {self.plugin!r} failed at {self.stage}: {self.error}"


class PluginManager:
    """A pluggy manager with isolation: each hook implementation is called on its own."""

    def __init__(self, *, load_entry_points: bool = True):
        self._pm = pluggy.PluginManager("biocap")
        self._pm.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        if load_entry_points:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self._pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break the SDK
                self._problem(ep.name, "load", exc)
                continue
            self.register(plugin, name=ep.name)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (module, class instance) from code; returns its name."""
        try:
            return self._pm.register(plugin, name=name)
        except Exception as exc:
            self._problem(name or repr(plugin), "register", exc)
            return ""

    def unregister(self, name: str) -> None:
        self._pm.unregister(name=name)

    @property
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self._pm.list_name_plugin()]

    def collect(self, hook_name: str) -> list[Any]:
        """Call one hook on every plugin separately and concatenate the lists they return."""
        hook = getattr(self._pm.hook, hook_name)
        found: list[Any] = []
        # pluggy calls the newest registration first; keep registration order instead
        for impl in reversed(hook.get_hookimpls()):
            try:
                result = impl.function()
            except Exception as exc:
                self._problem(impl.plugin_name, hook_name, exc)
                continue
            if result is None:
                continue
            if not isinstance(result, (list, tuple)):
                self._problem(impl.plugin_name, hook_name,
                              TypeError(f"hook must return a list, returned {type(result).__name__}"))
                continue
            found.extend(result)
        return found

    def _problem(self, plugin: str, stage: str, exc: BaseException) -> None:
        problem = PluginProblem(plugin, stage, f"{type(exc).__name__}: {exc}")
        if problem not in self.problems:
            self.problems.append(problem)
            log.warning("%s", problem)

"""An envsynth dataset as a tau2-bench domain (written by `envsynth export tau2`).

Importing this package with tau2 installed registers, in tau2's global registry: the domain and
its task set (name in envsynth_tau2.json, `envsynth_<slug>`; split `base` = every task), the
gold-replay agent `envsynth_replay` and the scripted user `envsynth_scripted_user`. The
`.pth` file installed beside it imports this package right after `tau2.registry` runs (see the
hook module), so tau2's own CLI lists and runs the domain unchanged.

Without tau2, only the tau2-free part (`play`) is usable; nothing is registered.
"""

from __future__ import annotations

import importlib.util

from .play import DOMAIN_NAME, catalog

__all__ = ["DOMAIN_NAME", "catalog", "register"]


def register(registry=None) -> None:
    """Register the domain, its tasks, the replay agent and the scripted user (idempotent)."""
    if registry is None:
        from tau2.registry import registry
    from .domain import get_environment, get_tasks, get_tasks_split
    from .replay import AGENT_NAME, USER_NAME, ReplayFactory, ScriptedUser

    if DOMAIN_NAME not in registry.get_domains():
        registry.register_domain(get_environment, DOMAIN_NAME)
    if DOMAIN_NAME not in registry.get_task_sets():
        registry.register_tasks(get_tasks, DOMAIN_NAME, get_task_splits=get_tasks_split)
    factory = registry.get_agent_factory(AGENT_NAME)
    if factory is None:
        factory = ReplayFactory()
        registry.register_agent_factory(factory, AGENT_NAME)
    if hasattr(factory, "add_catalog"):  # another envsynth domain registered it first
        factory.add_catalog(catalog)
    if USER_NAME not in registry.get_users():
        registry.register_user(ScriptedUser, USER_NAME)


def _tau2_installed() -> bool:
    try:  # tau2-bench's registry, not PyPI's unrelated `tau2` package
        return importlib.util.find_spec("tau2.registry") is not None
    except (ImportError, ValueError):
        return False


if _tau2_installed():
    register()

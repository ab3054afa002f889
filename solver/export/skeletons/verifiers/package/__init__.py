"""An envsynth domain as a verifiers 0.4 (`verifiers.v1`) taskset.

verifiers finds it by its taskset id: `vf-eval envsynth-<slug> ...` imports the module
`envsynth_<slug>`, whose `__all__` exports exactly one `Taskset` subclass.
"""

from .taskset import EnvsynthTaskset

__all__ = ["EnvsynthTaskset"]

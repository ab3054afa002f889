"""envsynth: provably valid tool-use environments for LLM agents, synthesized from constraint specs.

    import envsynth
    domain = envsynth.load_domain("airline")          # a shipped spec, or a path to your own
    tasks = envsynth.generate_tasks(domain, n=5, seed=1)  # in memory; `generate` streams to disk
    env = envsynth.Environment(domain, tasks[0])       # play a task by calling its tools
"""

__version__ = "0.1.0"

from .errors import EnvsynthError, SpecError, SpecErrors  # noqa: E402
from .spec.loader import load_domain, parse_spec_text  # noqa: E402

__all__ = ["__version__", "load_domain", "parse_spec_text", "EnvsynthError", "SpecError", "SpecErrors"]

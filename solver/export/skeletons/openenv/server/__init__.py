"""The environment's server: the OpenEnv environment class and its FastAPI app (server.app)."""

from .envsynth_environment import EnvsynthEnvironment

__all__ = ["EnvsynthEnvironment"]

"""An envsynth dataset as an OpenEnv environment (written by `envsynth export openenv`)."""

from .client import EnvsynthEnv
from .models import CallToolAction, CallToolObservation, EnvsynthObservation, EnvsynthState, ListToolsAction

__all__ = [
    "CallToolAction",
    "CallToolObservation",
    "EnvsynthEnv",
    "EnvsynthObservation",
    "EnvsynthState",
    "ListToolsAction",
]

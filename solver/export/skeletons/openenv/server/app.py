"""The FastAPI app serving this environment: OpenEnv's /ws sessions, /reset /step /state
/schema /health /metadata, the HTTP MCP endpoint /mcp and the task API under /<env name>/.

    uvicorn server.app:app --host 0.0.0.0 --port 8000          # from the package folder
    uvicorn <package>.server.app:app --port 8000                  # once pip-installed
    python -m <package>.server.app --port 8000

ENVSYNTH_MAX_SESSIONS (default 64) bounds the concurrent sessions; ENVSYNTH_SESSION_TIMEOUT
(seconds, default 900) closes a session idle that long.
"""

import os

from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.types import ConcurrencyConfig

try:
    from ..models import CallToolAction, CallToolObservation, EnvsynthObservation, EnvsynthState
    from .envsynth_environment import EnvsynthEnvironment, catalog, config
except ImportError:  # run from the package folder (uvicorn server.app:app)
    from models import CallToolAction, CallToolObservation, EnvsynthObservation, EnvsynthState
    from server.envsynth_environment import EnvsynthEnvironment, catalog, config

catalog()  # read the spec and tasks now: a package missing its data fails at start, not at the first episode

app = create_app(
    EnvsynthEnvironment,
    CallToolAction,
    CallToolObservation,
    env_name=config()["env_name"],
    concurrency_config=ConcurrencyConfig(
        max_concurrent_envs=int(os.environ.get("ENVSYNTH_MAX_SESSIONS", "64")),
        session_timeout=float(os.environ.get("ENVSYNTH_SESSION_TIMEOUT", "900")),
    ),
    state_cls=EnvsynthState,
    reset_observation_cls=EnvsynthObservation,
)


def main() -> None:
    """`server` script / `python -m <package>.server.app`: serve on --host/--port."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="serve this envsynth OpenEnv environment")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""The HTTP API (``voxportrait serve``): a job queue in SQLite, render worker processes, FastAPI routes."""

import importlib

from .config import API_KEY_ENV, ServerConfig, default_data_dir

__all__ = ["API_KEY_ENV", "ServerConfig", "create_app", "default_data_dir", "serve"]


def _need(module: str):
    """Import ``module``, or say which extra to install (imported here, lazily, so the CLI starts fast)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        from ..errors import MissingDependency

        raise MissingDependency(f"the HTTP API needs the web extra ({e.name} is missing): "
                                "pip install 'voxportrait[web]'") from e


def create_app(config: ServerConfig, animate: str | None = None):
    """The FastAPI app (see server.app.create_app)."""
    from .workers import ANIMATE

    return _need("voxportrait.server.app").create_app(config, animate or ANIMATE)


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, animate: str | None = None,
          log_level: str = "info") -> None:
    """Run the API with uvicorn until interrupted (Ctrl-C or SIGTERM stop it in order)."""
    app = create_app(config, animate)
    uvicorn = _need("uvicorn")
    _need("voxportrait.server.app").check_data_dir(config.data_dir)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30)

"""The HTTP API (``voxportrait serve``): a job queue in SQLite, render worker processes, FastAPI routes."""

from .config import API_KEY_ENV, ServerConfig, default_data_dir

__all__ = ["API_KEY_ENV", "ServerConfig", "create_app", "default_data_dir", "serve"]


def create_app(config: ServerConfig, animate: str | None = None):
    """The FastAPI app (see server.app.create_app); imported lazily so the CLI starts fast."""
    from .app import create_app as _create
    from .workers import ANIMATE

    return _create(config, animate or ANIMATE)


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, animate: str | None = None,
          log_level: str = "info") -> None:
    """Run the API with uvicorn until interrupted (Ctrl-C or SIGTERM stop it in order)."""
    import uvicorn

    from .app import check_data_dir

    check_data_dir(config.data_dir)
    uvicorn.run(create_app(config, animate), host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=30)

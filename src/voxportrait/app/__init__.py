"""The web UI (``voxportrait app``): a Gradio page bound to 127.0.0.1 by default."""

from __future__ import annotations

import os

# No network here: Gradio's usage analytics and update check stay off (set before Gradio is imported).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _ui():
    try:
        from . import ui
    except ImportError as e:
        from ..errors import MissingDependency

        raise MissingDependency(f"the web UI needs the web extra ({e.name} is missing): "
                                "pip install 'voxportrait[web]'") from e
    return ui


def build(defaults=None, workdir=None):
    """The gradio.Blocks page, not launched (see app.ui.build)."""
    return _ui().build(defaults, workdir)


def launch(defaults=None, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
           block: bool = True):
    """Serve the page until interrupted (see app.ui.launch)."""
    return _ui().launch(defaults, host, port, open_browser, block)


__all__ = ["build", "launch"]

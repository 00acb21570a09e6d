"""The web UI (``voxportrait app``): a Gradio page bound to 127.0.0.1 by default."""

from __future__ import annotations

import os

# No network here: Gradio's usage analytics and update check stay off (set before Gradio is imported).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def build(defaults=None, workdir=None):
    """The gradio.Blocks page, not launched (see app.ui.build)."""
    from .ui import build as _build

    return _build(defaults, workdir)


def launch(defaults=None, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
           block: bool = True):
    """Serve the page until interrupted (see app.ui.launch)."""
    from .ui import launch as _launch

    return _launch(defaults, host, port, open_browser, block)


__all__ = ["build", "launch"]

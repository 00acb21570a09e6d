"""Starts a server whose workers run a test stand-in for animate: python launch.py '{"port": ..., ...}'.

The JSON holds ServerConfig fields plus "port" and "animate" ("module:function"; this folder is importable).
"""

import json
import sys
from pathlib import Path

from voxportrait.server import ServerConfig, serve

if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    port, animate = settings.pop("port"), settings.pop("animate")
    sys.path.insert(0, str(Path(__file__).parent))
    serve(ServerConfig(**settings), port=port, animate=animate, log_level="warning")

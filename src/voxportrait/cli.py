"""Command line: argument parsing only. Every command calls one function in api.py.

A VoxPortraitError becomes one line on stderr and exit code 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .errors import VoxPortraitError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxportrait", description="Make a portrait photo speak: lip-synced talking-head video from speech."
    )
    parser.add_argument("--version", action="version", version=f"voxportrait {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except VoxPortraitError as e:
        print(f"voxportrait: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("voxportrait: interrupted", file=sys.stderr)
        return 130

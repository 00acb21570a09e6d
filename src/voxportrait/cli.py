"""Command line: argument parsing only. Every command calls one function in api.py.

Options are generated from the dataclasses in options.py (one place for each default); a ``--config FILE.toml``
is applied first and flags given on the command line override it. A VoxPortraitError becomes one line on stderr
and exit code 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from typing import Any

from . import __version__
from .errors import VoxPortraitError
from .options import SECTIONS, AnimateOptions, load_config, parse_fps, with_overrides

EXIT_USER_ERROR = 2

# Flags that read better than --field-name; booleans get a --flag / --no-flag pair unless named here.
_BOOL_FLAGS = {"full_frame": ("--full-frame", "--crop-only"), "level_eyes": ("--level-eyes", "--no-level-eyes")}


def _parse_value(kind: str, raw: str) -> Any:
    base = kind.replace(" | None", "").strip()
    if base == "Fraction":
        return parse_fps(raw)
    if base == "int":
        return int(raw)
    if base == "float":
        return float(raw)
    return raw


def add_option_flags(parser: argparse.ArgumentParser, sections: tuple[str, ...]) -> None:
    """Add one flag per option field of the given sections; values land in ``args`` as "section.field"."""
    for section in sections:
        group = parser.add_argument_group(f"{section} options")
        for f in fields(SECTIONS[section]):
            meta = f.metadata
            dest = f"{section}.{f.name}"
            default = f.default
            if f.type == "bool":
                on, off = _BOOL_FLAGS.get(f.name, (f"--{f.name.replace('_', '-')}", f"--no-{f.name.replace('_', '-')}"))
                group.add_argument(on, dest=dest, action="store_true", default=argparse.SUPPRESS,
                                   help=f"{meta['help']} (default: {'on' if default else 'off'})")
                group.add_argument(off, dest=dest, action="store_false", default=argparse.SUPPRESS)
                continue
            kind = str(f.type)

            def convert(raw: str, kind: str = kind, name: str = f.name) -> Any:
                try:
                    return _parse_value(kind, raw)
                except (ValueError, VoxPortraitError) as e:
                    raise argparse.ArgumentTypeError(f"invalid {name}: {raw!r} ({e})") from e

            group.add_argument(
                meta.get("flag") or f"--{f.name.replace('_', '-')}",
                dest=dest,
                type=convert,
                choices=meta.get("choices"),
                default=argparse.SUPPRESS,
                metavar=None if meta.get("choices") else f.name.upper(),
                help=f"{meta['help']} (default: {default})",
            )


def options_from_args(args: argparse.Namespace, base: AnimateOptions | None = None) -> AnimateOptions:
    """Defaults, then --config FILE, then the flags given."""
    options = base or AnimateOptions()
    if getattr(args, "config", None):
        options = load_config(args.config, options)
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            overrides.setdefault(section, {})[name] = value
    return with_overrides(options, overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxportrait", description="Make a portrait photo speak: lip-synced talking-head video from speech."
    )
    parser.add_argument("--version", action="version", version=f"voxportrait {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _COMMANDS:
        register(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE.toml", help="options file with [analyze] [drive] [render] [encode]")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show the faces, landmarks, head pose and crop found in a portrait",
                       description="Analyze a portrait: print the faces found, the head pose and the crop; "
                       "with -o, draw the mesh, irises, pose axes and crop box on a preview image.")
    p.add_argument("image", help="portrait photo (jpg, png, webp, bmp, tiff)")
    p.add_argument("-o", "--output", metavar="PREVIEW.png", help="write a preview image with what was found")
    p.add_argument("--config", metavar="FILE.toml", help="options file; only [analyze] is used")
    add_option_flags(p, ("analyze",))
    p.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from . import api

    report = api.inspect_portrait(args.image, options_from_args(args).analyze, preview=args.output)
    print(report.summary())
    return 0


class _ProgressBar:
    """A rich progress bar on a terminal (stderr), nothing otherwise; used as the api progress callback."""

    def __init__(self, quiet: bool):
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), transient=True)
            self._tasks: dict[str, int] = {}

    def __enter__(self) -> _ProgressBar:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, p) -> None:
        if self._bar is None:
            return
        if p.stage not in self._tasks:
            self._tasks[p.stage] = self._bar.add_task(p.stage, total=p.total)
        self._bar.update(self._tasks[p.stage], completed=p.done, total=p.total)


def _add_animate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="make a portrait speak an audio recording",
                       description="Portrait photo + speech recording -> lip-synced talking-head video.")
    p.add_argument("portrait", help="portrait photo (jpg, png, webp, bmp, tiff)")
    p.add_argument("audio", help="speech (wav, mp3, m4a, flac, ogg/opus, or the audio of a video file)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4",
                   help="output video: .mp4/.mov, or .webm (needed for a transparent background, as is a "
                        "folder name for PNG frames)")
    _common(p)
    add_option_flags(p, ("analyze", "drive", "render", "encode"))
    p.set_defaults(func=_animate)


def _animate(args: argparse.Namespace) -> int:
    from . import api

    options = options_from_args(args)
    with _ProgressBar(args.quiet) as bar:
        result = api.animate(args.portrait, args.audio, args.output, options, progress=bar)
    if not args.quiet:
        print(result.summary())
    return 0


def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="animate many portrait/audio pairs from a job file (resumable)",
                       description="Render every job of a CSV (header: portrait,audio[,output][,option...]) or "
                       "JSON-lines file. Outputs that already exist are skipped, so an interrupted batch resumes; "
                       "a failed job is reported and the others still run. Flags set the options of every job; "
                       "a job's own columns override them.")
    p.add_argument("jobs", help="job file (.csv or .jsonl); relative paths are relative to it")
    p.add_argument("--out-dir", required=True, help="folder for the videos (created if missing)")
    _common(p)
    add_option_flags(p, ("analyze", "drive", "render", "encode"))
    p.set_defaults(func=_batch)


def _batch(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from . import api

    console = Console(stderr=False, highlight=False)

    def report(outcome) -> None:
        if not args.quiet:
            console.print(f"line {outcome.job.line}: {outcome.status} {outcome.job.output.name}"
                          + (f": {outcome.message}" if outcome.status == "failed" else ""))

    with _ProgressBar(args.quiet) as bar:
        outcomes = api.batch(args.jobs, args.out_dir, options_from_args(args), on_job=report, progress=bar)
    table = Table("line", "output", "status", "detail", title="batch summary")
    for o in outcomes:
        detail = o.message if o.status != "done" else f"{o.result.frames} frames in {o.result.elapsed_s:.1f} s"
        table.add_row(str(o.job.line), o.job.output.name, o.status, detail)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    if not args.quiet:
        console.print(table)
        console.print(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")
    return EXIT_USER_ERROR if counts["failed"] else 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from .server.config import API_KEY_ENV, ServerConfig, default_data_dir

    d = ServerConfig(data_dir=default_data_dir(), workers=1)
    p = sub.add_parser("serve", help="run the HTTP API (job queue + render workers)",
                       description="HTTP API: POST /v1/animations (multipart portrait + audio + options) -> 202 "
                       "with a job id; GET /v1/animations/ID for status, ID/video for the result. OpenAPI at /docs.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine "
                   "only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--data-dir", default=str(d.data_dir), help=f"jobs, uploads and videos (default: {d.data_dir})")
    p.add_argument("--workers", type=int, default=None, help="renders at once (default: one per CPU core)")
    p.add_argument("--max-queued", type=int, default=d.max_queued,
                   help=f"waiting jobs beyond which submissions get 503 (default: {d.max_queued})")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2**20,
                   help=f"largest request body, portrait + audio (default: {d.max_upload_bytes / 2**20:g})")
    p.add_argument("--max-audio-s", type=float, default=d.max_audio_s,
                   help=f"longest audio accepted, seconds (default: {d.max_audio_s:g})")
    p.add_argument("--result-ttl-h", type=float, default=d.result_ttl_s / 3600,
                   help=f"hours a finished video is kept (default: {d.result_ttl_s / 3600:g})")
    p.add_argument("--job-timeout-s", type=float, default=d.job_timeout_s,
                   help=f"longest render before it is stopped (default: {d.job_timeout_s:g})")
    p.add_argument("--api-key", default=None, help=f"require this key (Authorization: Bearer KEY); better set "
                   f"${API_KEY_ENV}, which other users cannot see in the process list")
    p.add_argument("--config", metavar="FILE.toml", help="the server's default options, e.g. [render] weights = "
                   "DIR for neural renderers; requests override all but the file paths")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import os

    from .server import serve
    from .server.config import API_KEY_ENV, ServerConfig

    defaults = load_config(args.config) if args.config else AnimateOptions()
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    config = ServerConfig(
        data_dir=args.data_dir, workers=args.workers or os.cpu_count() or 1, max_queued=args.max_queued,
        max_upload_bytes=int(args.max_upload_mb * 2**20), max_audio_s=args.max_audio_s,
        result_ttl_s=args.result_ttl_h * 3600, job_timeout_s=args.job_timeout_s, api_key=api_key, defaults=defaults,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        logging.getLogger(__name__).warning("listening on %s without an API key: anyone who can reach this "
                                            "port can submit renders (set $%s)", args.host, API_KEY_ENV)
    serve(config, args.host, args.port, log_level="info" if args.verbose else "warning")
    return 0


def _add_app(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="open the web UI in a browser (Gradio)",
                       description="The web UI: drop a portrait, record or upload speech, pick the parts and "
                       "options, watch the progress and download the video.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine "
                   "only)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--config", metavar="FILE.toml", help="default options shown in the UI (and the weights "
                   "folders of neural parts)")
    p.add_argument("--open", action="store_true", help="open it in the default web browser")
    p.set_defaults(func=_app)


def _app(args: argparse.Namespace) -> int:
    from .app import launch

    defaults = load_config(args.config) if args.config else AnimateOptions()
    launch(defaults, host=args.host, port=args.port, open_browser=args.open)
    return 0


_COMMANDS: list = [_add_animate, _add_batch, _add_inspect, _add_serve, _add_app]


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
        print("voxportrait: interrupted; no output was written", file=sys.stderr)
        return 130

"""The Gradio page: inputs on the left (portrait, speech, parts, options), what was found and made on the right.

Rendering runs ``api.animate`` on a thread while the event handler reports its progress; pressing Stop (or
leaving the page) closes the handler, which tells ``animate`` to stop, and ``animate`` removes its partial file.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from .. import api
from ..errors import VoxPortraitError
from ..neural.availability import availability
from ..options import AnimateOptions, with_overrides
from .controls import MAIN, PARTS, Control, label, make_control, option_fields, overrides, part_choices

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
KEEP_S = 24 * 3600
STAGE_SPAN = {"analyze": (0.0, 0.05), "drive": (0.05, 0.2), "render": (0.2, 1.0)}

CSS = """
.vp-unavailable { opacity: 0.45; cursor: not-allowed; }
#vp-parts-note { font-size: 0.9em; }
"""

# Gradio's radio has no per-choice "disabled": grey out and disable the parts that cannot run, once drawn.
JS = """
() => {
  const unavailable = %s;
  const apply = () => {
    for (const [elem, names] of Object.entries(unavailable)) {
      for (const input of document.querySelectorAll(`#${elem} input[type=radio]`)) {
        const reason = names[input.value];
        if (reason === undefined) continue;
        input.disabled = true;
        const box = input.closest('label');
        if (box) { box.classList.add('vp-unavailable'); box.title = reason; }
      }
    }
  };
  apply();
  new MutationObserver(apply).observe(document.body, {childList: true, subtree: true});
}
"""


class Cancelled(Exception):
    """Raised from the progress callback when the page stopped the render."""


def _examples() -> list[list[str]]:
    portrait, speech = EXAMPLES / "portrait.png", EXAMPLES / "speech.wav"
    return [[str(portrait), str(speech)]] if portrait.is_file() and speech.is_file() else []


def _fraction(p: api.Progress) -> float:
    lo, hi = STAGE_SPAN.get(p.stage, (0.0, 1.0))
    return lo + (hi - lo) * (p.done / p.total if p.total else 0.0)


class Page:
    """The handlers behind the page, with the defaults and the folder its files go to."""

    def __init__(self, defaults: AnimateOptions, workdir: Path):
        self.defaults, self.workdir = defaults, workdir
        self.reasons = availability({"renderer": defaults.render.weights, "driver": defaults.drive.driver_weights})

    def _folder(self) -> Path:
        """A new folder for one preview or video; those of earlier days go (the page keeps no history)."""
        old = time.time() - KEEP_S
        for previous in self.workdir.iterdir():
            if previous.stat().st_mtime < old:
                shutil.rmtree(previous, ignore_errors=True)
        folder = self.workdir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def _options(self, controls: list[Control], values: list[Any], parts: dict[str, str]) -> AnimateOptions:
        chosen = overrides(controls, values)
        chosen.setdefault("render", {})["renderer"] = parts["renderer"]
        chosen.setdefault("drive", {})["driver"] = parts["driver"]
        for kind, name in parts.items():
            reason = self.reasons[kind].get(name)
            if reason:
                raise gr.Error(f"{reason}. Choose another {kind}, or set its weights folder (voxportrait app "
                               "--config FILE.toml, or $VOXPORTRAIT_WEIGHTS) and restart.")
        try:
            return with_overrides(self.defaults, chosen)
        except VoxPortraitError as e:
            raise gr.Error(str(e)) from None

    def inspect(self, portrait: str | None, controls: list[Control], *values: Any) -> tuple[Any, str]:
        """The face-analysis preview: mesh, irises, pose axes and crop drawn on the portrait, and a summary."""
        if not portrait:
            return None, ""
        try:
            options = with_overrides(self.defaults, overrides(controls, list(values)))
            preview = self._folder() / "face.png"
            report = api.inspect_portrait(portrait, options.analyze, preview=preview, crop_size=options.render.size)
        except VoxPortraitError as e:
            return None, f"**Cannot use this portrait:** {e}"
        lines = report.summary().splitlines()[:-1]          # the last line names the preview file
        return str(preview), "```\n" + "\n".join(lines).replace(str(portrait), Path(portrait).name) + "\n```"

    def render(self, portrait: str | None, audio: str | None, renderer: str, driver: str,
               controls: list[Control], values: list[Any], progress: gr.Progress) -> Iterator[tuple]:
        """Yields nothing-changed updates while ``animate`` runs (so Stop can close it), then the video."""
        if not portrait:
            raise gr.Error("Add a portrait photo first (drop it on the Portrait box, or pick an example).")
        if not audio:
            raise gr.Error("Add speech first: upload a recording or record one with the microphone.")
        options = self._options(controls, values, {"renderer": renderer, "driver": driver})
        suffix = ".webm" if options.render.background == "transparent" else ".mp4"
        output = self._folder() / f"{Path(portrait).stem[:40]}__{Path(audio).stem[:40]}{suffix}"
        stop = threading.Event()
        state: dict[str, Any] = {}

        def report(p: api.Progress) -> None:
            if stop.is_set():
                raise Cancelled
            state["progress"] = p

        def run() -> None:
            try:
                state["result"] = api.animate(portrait, audio, output, options, progress=report)
            except Cancelled:
                pass
            except Exception as e:       # handed to the page below
                state["error"] = e

        worker = threading.Thread(target=run, name="voxportrait-app-render", daemon=True)
        worker.start()
        try:
            progress(0.0, desc="starting")
            while worker.is_alive():
                worker.join(0.3)
                p = state.get("progress")
                if p is not None:
                    progress(_fraction(p), desc=f"{p.stage} {p.done}/{p.total}")
                yield gr.skip(), gr.skip(), gr.skip()
        finally:
            stop.set()                   # Stop pressed or page left: animate stops at its next report
        error = state.get("error")
        if isinstance(error, VoxPortraitError):
            raise gr.Error(str(error))
        if error is not None:
            log.error("render failed", exc_info=error)
            raise gr.Error(f"the render failed unexpectedly ({type(error).__name__}: {error})")
        result = state["result"]
        summary = (f"{result.frames} frames, {result.duration_s:.2f} s at {float(result.fps):g} fps; "
                   f"rendered in {result.elapsed_s:.1f} s")
        yield str(output), gr.DownloadButton(value=str(output), interactive=True, visible=True), summary


def build(defaults: AnimateOptions | None = None, workdir: Path | None = None) -> gr.Blocks:
    """The page (not yet launched); files it makes go to ``workdir`` (a new temporary folder by default)."""
    defaults = defaults or AnimateOptions()
    page = Page(defaults, workdir or Path(tempfile.mkdtemp(prefix="voxportrait-app-")))
    main_fields = option_fields(MAIN)
    more_fields = option_fields(exclude=MAIN + PARTS)
    # Gradio keeps its own copies of inputs and outputs: drop them after a day too
    with gr.Blocks(title="voxportrait", delete_cache=(3600, KEEP_S)) as blocks:
        gr.Markdown("# voxportrait\nA portrait photo and a speech recording in, a talking video out.")
        with gr.Row():
            with gr.Column(scale=1):
                # image_mode=None: the uploaded file reaches animate as it is (its own decoder handles every mode)
                portrait = gr.Image(label="Portrait", type="filepath", sources=["upload", "clipboard", "webcam"],
                                    image_mode=None,
                                    elem_id="portrait", height=320)
                audio = gr.Audio(label="Speech", type="filepath", sources=["upload", "microphone"], elem_id="audio")
                parts = {}
                for kind, section in (("renderer", "render"), ("driver", "drive")):
                    f = SECTION_FIELD[(section, kind)]
                    parts[kind] = gr.Radio(choices=part_choices(kind, page.reasons[kind]), label=label(kind),
                                           value=getattr(getattr(defaults, section), kind),
                                           info=f.metadata["help"], elem_id=f"opt-{kind}")
                notes = [f"- **{name}** {kind}: {reason}" for kind in PARTS
                         for name, reason in page.reasons[kind].items() if reason]
                if notes:
                    with gr.Accordion("Why some parts are unavailable", open=False):
                        gr.Markdown("\n".join(notes), elem_id="vp-parts-note")
                controls: list[Control] = []
                for row in (MAIN[:3], MAIN[3:]):
                    with gr.Row():
                        controls += [make_control(s, f, defaults) for s, f in main_fields if f.name in row]
                with gr.Accordion("More options", open=False):
                    for section in dict.fromkeys(s for s, _ in more_fields):
                        gr.Markdown(f"**{section.capitalize()}**")
                        controls += [make_control(s, f, defaults) for s, f in more_fields if s == section]
                with gr.Row():
                    go = gr.Button("Render", variant="primary", elem_id="render")
                    stop = gr.Button("Stop", elem_id="stop")
            with gr.Column(scale=1):
                preview = gr.Image(label="What was found in the portrait", interactive=False, elem_id="preview",
                                   height=320)
                found = gr.Markdown(elem_id="face-info")
                video = gr.Video(label="Result", interactive=False, elem_id="result")
                summary = gr.Markdown(elem_id="summary")
                download = gr.DownloadButton("Download video", interactive=False, elem_id="download")
        examples = _examples()
        if examples:
            gr.Examples(examples=examples, inputs=[portrait, audio], label="Examples")

        analyze_controls = [c for c in controls if c.section in ("analyze", "render")]

        def inspect(portrait_path, *values):
            return page.inspect(portrait_path, analyze_controls, *values)

        portrait.change(inspect, [portrait, *[c.component for c in analyze_controls]], [preview, found])

        def render(portrait_path, audio_path, renderer, driver, *values, progress=gr.Progress()):  # noqa: B008
            # (Gradio finds the progress tracker by this default)
            yield from page.render(portrait_path, audio_path, renderer, driver, controls, list(values), progress)

        event = go.click(render, [portrait, audio, parts["renderer"], parts["driver"],
                                  *[c.component for c in controls]], [video, download, summary])
        stop.click(None, cancels=[event])
    blocks.vp_js = JS % json.dumps({f"opt-{kind}": {n: r for n, r in page.reasons[kind].items() if r}
                                    for kind in PARTS})
    blocks.vp_workdir = page.workdir
    return blocks


SECTION_FIELD = {(s, f.name): f for s, f in option_fields()}


def launch(defaults: AnimateOptions | None = None, host: str = "127.0.0.1", port: int = 7860,
           open_browser: bool = False, block: bool = True) -> gr.Blocks:
    """Build and serve the page on ``host:port`` (this machine only by default)."""
    blocks = build(defaults)
    workdir = blocks.vp_workdir
    allowed = [str(workdir)] + ([str(EXAMPLES)] if _examples() else [])
    blocks.queue(default_concurrency_limit=1)
    try:
        blocks.launch(server_name=host, server_port=port, inbrowser=open_browser, prevent_thread_lock=not block,
                      allowed_paths=allowed, ssr_mode=False, footer_links=[], css=CSS, js=blocks.vp_js,
                      show_error=True, quiet=not block)
    finally:
        if block:
            shutil.rmtree(workdir, ignore_errors=True)
    return blocks

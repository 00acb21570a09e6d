"""UI controls generated from the option dataclasses (one place for each default, its help and its choices).

Each option becomes the control its type calls for: choices a dropdown, a flag a checkbox, a number a number
box, a frame rate a text box (it takes "30000/1001"). The renderer and driver are radio buttons that say which
parts cannot run here and why. File paths (weights folders, a reference video) are not shown: they come from
``voxportrait app --config FILE.toml`` or ``$VOXPORTRAIT_WEIGHTS``.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, fields
from fractions import Fraction
from typing import Any

import gradio as gr

from ..options import SECTIONS, AnimateOptions
from ..server.config import PATH_OPTIONS as PATHS

PARTS = ("renderer", "driver")
# shown beside the inputs; every other option sits in a "More options" panel, by section
MAIN = ("size", "fps", "background", "expression_scale", "head_motion_scale")


@dataclass(frozen=True)
class Control:
    section: str
    field: Field
    component: gr.components.Component

    @property
    def kind(self) -> str:
        return str(self.field.type).replace(" | None", "").strip()

    def value(self, raw: Any) -> Any:
        """The control's value as the option's type; None where the box was left empty (the default)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if self.kind == "int" and not isinstance(raw, bool):
            return int(raw) if float(raw).is_integer() else raw     # 2.5 stays 2.5: validation says why
        if self.kind == "float":
            return float(raw)
        return raw


def label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def option_fields(names: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> list[tuple[str, Field]]:
    """(section, field) of the options shown, optionally only ``names`` (in that order)."""
    shown = [(s, f) for s, cls in SECTIONS.items() for f in fields(cls) if f.name not in PATHS | set(exclude)]
    if names is None:
        return shown
    by_name = {f.name: (s, f) for s, f in shown}
    return [by_name[n] for n in names if n in by_name]


def make_control(section: str, f: Field, defaults: AnimateOptions) -> Control:
    default = getattr(getattr(defaults, section), f.name)
    common = {"label": label(f.name), "info": f.metadata["help"], "elem_id": f"opt-{f.name}"}
    kind = str(f.type).replace(" | None", "").strip()
    if f.metadata.get("choices"):
        component = gr.Dropdown(choices=list(f.metadata["choices"]), value=default, **common)
    elif kind == "bool":
        component = gr.Checkbox(value=default, **common)
    elif kind == "int":
        component = gr.Number(value=default, precision=0, **common)
    elif kind == "float":
        component = gr.Number(value=default, **common)
    else:
        component = gr.Textbox(value="" if default is None else str(default) if isinstance(default, Fraction)
                               else default, **common)
    return Control(section, f, component)


def part_choices(kind: str, reasons: dict[str, str | None]) -> list[tuple[str, str]]:
    """(label, value) radio choices; a part that cannot run says so in its label."""
    return [(name if reason is None else f"{name} (unavailable)", name) for name, reason in reasons.items()]


def overrides(controls: list[Control], values: list[Any]) -> dict[str, dict[str, Any]]:
    """{section: {field: value}} from the controls' current values (empty boxes keep the defaults)."""
    out: dict[str, dict[str, Any]] = {}
    for control, raw in zip(controls, values, strict=True):
        value = control.value(raw)
        if value is not None:
            out.setdefault(control.section, {})[control.field.name] = value
    return out

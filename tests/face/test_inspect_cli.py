"""`voxportrait inspect`: what it prints, the preview it draws, and its error exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from face_assets import portrait_paths

from voxportrait.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_inspect_prints_faces_pose_and_crop_and_draws_a_preview(tmp_path, capsys):
    preview = tmp_path / "preview.png"
    assert main(["inspect", str(portrait_paths()[0]), "-o", str(preview)]) == 0
    out = capsys.readouterr().out
    assert "1 face(s) found" in out and "* face 0: box" in out
    assert "pose: yaw" in out and "pitch" in out and "roll" in out
    assert "crop: " in out and "512 x 512" in out and f"preview: {preview}" in out
    image = cv2.imread(str(preview))
    photo = cv2.imread(str(portrait_paths()[0]))
    assert image is not None and image.shape == photo.shape
    changed = np.abs(image.astype(int) - photo.astype(int)).max(axis=2) > 40
    assert 0.002 < changed.mean() < 0.2                     # lines and dots drawn, the photo still there
    assert len(list(tmp_path.iterdir())) == 1               # no temporary file left behind


def test_inspect_options_reach_the_crop(capsys):
    side = lambda text: float(text.split("crop: ")[1].split(" px")[0])  # noqa: E731
    main(["inspect", str(portrait_paths()[0])])
    default = capsys.readouterr().out
    main(["inspect", str(portrait_paths()[0]), "--crop-scale", "4.6"])
    assert abs(side(capsys.readouterr().out) - 2 * side(default)) <= 1
    main(["inspect", str(portrait_paths()[0]), "--no-level-eyes"])
    assert "rotated +0.0 deg" in capsys.readouterr().out and "rotated +0.0 deg" not in default


def test_errors_exit_2_with_the_message_and_no_traceback(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voxportrait: error: portrait not found") and "Traceback" not in err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
    assert main(["inspect", str(blank)]) == 2
    assert "no face found" in capsys.readouterr().err
    assert main(["inspect", str(portrait_paths()[0]), "-o", str(tmp_path / "no/such/dir/p.png")]) == 2
    assert "directory does not exist" in capsys.readouterr().err


def test_the_installed_command_fails_cleanly(tmp_path):
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(portrait_paths()[0].read_bytes()[:3000])
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-m", "voxportrait", "inspect", str(truncated)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("voxportrait: error: portrait is corrupt or truncated")
    assert "Traceback" not in run.stderr and run.stdout == ""

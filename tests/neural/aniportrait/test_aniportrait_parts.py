"""Fast checks of the pure parts: context windows and blending, landmark drawing, mesh geometry, the
reference-attention reader, options."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from voxportrait.errors import InvalidOption  # noqa: E402
from voxportrait.neural.aniportrait.config import Lmk2VideoOptions  # noqa: E402
from voxportrait.neural.aniportrait.geometry import posed_mesh, rotation_matrix  # noqa: E402
from voxportrait.neural.aniportrait.landmark_image import (  # noqa: E402
    LIPS_OUTER_BOTTOM_LEFT,
    LIPS_OUTER_TOP_LEFT,
    STROKES,
    draw_landmark_image,
)
from voxportrait.neural.aniportrait.spatial_transformer import attend_with_reference  # noqa: E402
from voxportrait.neural.aniportrait.windows import (  # noqa: E402
    context_windows,
    window_weights,
    windows_per_call,
)

pytestmark = pytest.mark.neural


# ---- windows -------------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(2, 32), st.data())
def test_windows_cover_every_frame_with_the_asked_overlap(num_frames, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    windows = context_windows(num_frames, size, overlap)
    covered = np.zeros(num_frames, int)
    for a, b in windows:
        assert 0 <= a < b <= num_frames and b - a == min(size, num_frames)
        covered[a:b] += 1
    assert covered.min() >= 1
    for (a0, b0), (a1, _) in zip(windows, windows[1:], strict=False):
        assert b0 - a1 >= overlap and a1 > a0                 # neighbours share at least `overlap` frames


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.integers(2, 32), st.data())
def test_blending_keeps_a_prediction_all_windows_agree_on(num_frames, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    windows = context_windows(num_frames, size, overlap)
    weights = window_weights(windows, num_frames)
    signal = np.sin(np.arange(num_frames) * 0.3)
    total, weight = np.zeros(num_frames), np.zeros(num_frames)
    for (a, b), w in zip(windows, weights, strict=True):
        assert np.all(w > 0) and np.all(w <= 1)
        total[a:b] += w * signal[a:b]
        weight[a:b] += w
    np.testing.assert_allclose(total / weight, signal, atol=1e-12)


def test_windows_as_published_and_ramps():
    assert context_windows(4, 16, 4) == [(0, 4)]                      # the fixture's single window
    assert context_windows(40, 16, 4) == [(0, 16), (12, 28), (24, 40)]
    assert context_windows(30, 16, 4) == [(0, 16), (12, 28), (14, 30)]  # last one aligned to the end
    w = window_weights([(0, 16), (12, 28)], 28)
    np.testing.assert_allclose(w[0][12:], [0.8, 0.6, 0.4, 0.2])
    np.testing.assert_allclose(w[1][:4], [0.2, 0.4, 0.6, 0.8])
    assert np.all(w[0][:12] == 1) and np.all(w[1][4:] == 1)


def test_windows_per_call_fits_memory():
    assert windows_per_call(free_bytes=10 << 30, per_window_bytes=3 << 30, most=4) == 2
    assert windows_per_call(free_bytes=1 << 20, per_window_bytes=3 << 30, most=4) == 1
    assert windows_per_call(free_bytes=1 << 40, per_window_bytes=1, most=4) == 4


# ---- landmark images -----------------------------------------------------------------------------------

def _only(edges, size: int) -> np.ndarray:
    """Landmarks with only the points of ``edges`` inside the frame, spread along a diagonal."""
    pts = np.full((468, 2), -10.0)
    idx = sorted({i for e in edges for i in e})
    pts[idx] = size * np.column_stack([np.linspace(0.2, 0.8, len(idx)), np.linspace(0.3, 0.7, len(idx))])
    return pts


def test_each_part_is_drawn_alone_in_its_own_colour():
    for edges, colour in STROKES:
        image = draw_landmark_image(_only(edges, 512), 512)
        assert image.dtype == np.uint8 and image.shape == (512, 512, 3)
        drawn = {tuple(c) for c in image.reshape(-1, 3)} - {(0, 0, 0)}
        assert drawn == {colour}
    assert len({colour for _, colour in STROKES}) == len(STROKES)      # 13 parts, 13 colours


def test_upper_and_lower_lips_differ_and_lines_are_two_pixels():
    pts = np.full((468, 2), -10.0)
    for row, edges in ((200, LIPS_OUTER_TOP_LEFT), (300, LIPS_OUTER_BOTTOM_LEFT)):
        idx = [e[0] for e in edges] + [edges[-1][1]]                     # the run's points in order
        pts[idx] = np.column_stack([np.linspace(100, 400, len(idx)), np.full(len(idx), row)])
    pts[61] = (100, 250)                                                 # the shared mouth corner
    image = draw_landmark_image(pts, 512)
    upper, lower = dict(STROKES)[LIPS_OUTER_TOP_LEFT], dict(STROKES)[LIPS_OUTER_BOTTOM_LEFT]
    assert upper != lower
    assert tuple(image[200, 300]) == upper and tuple(image[300, 300]) == lower
    column = image[190:211, 300].any(axis=1)
    assert 2 <= column.sum() <= 3                                        # a 2-pixel stroke


def test_drawing_skips_points_outside_and_resizes():
    pts = _only(LIPS_OUTER_TOP_LEFT, 256)
    full = draw_landmark_image(pts, 256)
    pts[0] = (-5.0, 10.0)                       # the midline point leaves the frame: its edge goes
    small = draw_landmark_image(pts, 256)
    assert full.shape == small.shape == (256, 256, 3)
    assert 0 < small.any(-1).sum() < full.any(-1).sum()
    assert not draw_landmark_image(np.full((468, 2), -1.0), 128).any()


# ---- geometry ------------------------------------------------------------------------------------------

def test_rotation_signs_follow_the_project_conventions():
    nose = np.array([0.0, 0.0, -1.0])           # towards the camera
    top = np.array([0.0, -1.0, 0.0])            # top of the head (y down)
    assert (rotation_matrix(30, 0, 0) @ nose)[0] > 0.4      # yaw > 0 turns the face to the image's right
    assert (rotation_matrix(0, 30, 0) @ nose)[1] < -0.4     # pitch > 0 lifts the chin: the nose goes up
    assert (rotation_matrix(0, 0, 30) @ top)[0] > 0.4       # roll > 0: the head top moves right
    r = rotation_matrix(np.array([10.0, -20.0]), np.array([5.0, 0.0]), np.array([0.0, 40.0]))
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)


def test_posed_mesh_identity_offsets_and_head_motion():
    rng = np.random.default_rng(1)
    mesh = rng.normal(0, 30, (468, 3)) + [256, 256, 0]
    pivot = np.array([256.0, 256.0, 0.0])
    eye = np.broadcast_to(np.eye(3), (3, 3, 3))
    offsets = np.zeros((3, 468, 3))
    offsets[1, 17, 1] = 2.0                     # chin point 2 units down
    out = posed_mesh(mesh, pivot, offsets, rotation_matrix(0, 0, 90), 5.0, eye, np.zeros((3, 3)), np.ones(3))
    np.testing.assert_allclose(out[0], mesh)
    # 2 units down, 5 px per unit, turned with the head's 90 degree roll: 10 px to the left
    np.testing.assert_allclose(out[1, 17] - mesh[17], [-10.0, 0.0, 0.0], atol=1e-9)
    moved = posed_mesh(mesh, pivot, np.zeros((1, 468, 3)), np.eye(3), 5.0, rotation_matrix(0, 0, 0)[None],
                       np.array([[7.0, -3.0, 0.0]]), np.array([2.0]))
    np.testing.assert_allclose(moved[0], pivot + 2.0 * (mesh - pivot) + [7.0, -3.0, 0.0])


# ---- reference attention -------------------------------------------------------------------------------

def test_reader_attends_to_the_reference_only_in_flagged_rows():
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8).eval()
    x = torch.randn(4, 10, 16)
    ref = torch.randn(1, 6, 16)
    rows = torch.tensor([False, False, True, True])
    with torch.no_grad():
        out = attend_with_reference(attn, x, ref, rows)
        plain = attn(x)
        with_ref = attn(x, encoder_hidden_states=torch.cat([x, ref.expand(4, -1, -1)], 1))
    torch.testing.assert_close(out[:2], plain[:2])
    torch.testing.assert_close(out[2:], with_ref[2:])
    assert (out[2:] - plain[2:]).abs().max() > 1e-3
    torch.testing.assert_close(attend_with_reference(attn, x, None, rows), plain)


# ---- portrait preprocessing ---------------------------------------------------------------------------

def test_clip_input_is_what_aniportrait_feeds_clip():
    """AniPortrait: CLIPImageProcessor()(portrait.resize((224, 224))), PIL's default (bicubic) resize."""
    from PIL import Image
    from transformers import CLIPImageProcessor

    from voxportrait.neural.aniportrait.models import Lmk2VideoModels

    image = np.random.default_rng(0).integers(0, 256, (300, 280, 3), dtype=np.uint8)
    want = CLIPImageProcessor()(images=Image.fromarray(image).resize((224, 224)), return_tensors="pt")
    models = object.__new__(Lmk2VideoModels)                      # only the encoder's image size is read
    models.image_encoder = type("Encoder", (), {"config": type("Config", (), {"image_size": 224})})()
    torch.testing.assert_close(models.clip_pixels(image), want.pixel_values, atol=1e-6, rtol=0)


# ---- options -------------------------------------------------------------------------------------------

def test_options_defaults_and_checks():
    o = Lmk2VideoOptions()
    published = (25, 3.5, 16, 4, 512)
    assert (o.steps, o.guidance_scale, o.context_frames, o.context_overlap, o.resolution) == published
    for bad in ({"resolution": 300}, {"context_frames": 40}, {"context_overlap": 16}, {"guidance_scale": 0.5},
                {"steps": 0}, {"max_batch_windows": 0}):
        with pytest.raises(InvalidOption):
            replace(o, **bad)

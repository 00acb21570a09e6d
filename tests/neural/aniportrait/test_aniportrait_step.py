"""The stored first denoising step of AniPortrait's Pose2VideoPipeline, with seeded weights, at the stored
size (4 frames, 32x32 latents, batch 2 for guidance): ReferenceNet caches, guided UNet prediction, DDIM
update.

The networks run once, one after the other, in a module fixture (the full-size UNets need ~9 GB together;
the ReferenceNet is freed before the denoiser is built).
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aniportrait_fixtures import arrays, manifest, max_abs, seeded_state_dict  # noqa: E402

from voxportrait.neural.aniportrait.config import SchedulerConfig  # noqa: E402
from voxportrait.neural.aniportrait.pose_guider import PoseGuider  # noqa: E402
from voxportrait.neural.aniportrait.reference_net import (  # noqa: E402
    CACHE_DTYPE,
    build_reference_unet,
    reference_caches,
    write_reference_caches,
)
from voxportrait.neural.aniportrait.unet3d import UNet3D  # noqa: E402

pytestmark = pytest.mark.neural


def _seeded(module_factory, fixtures_dir, name):
    m = manifest(fixtures_dir, name)
    with torch.device("meta"):
        net = module_factory()
    state = seeded_state_dict(fixtures_dir, m["entries"], skip=set(m["kept_buffers"]))
    net.load_state_dict(state, strict=True, assign=True)
    return net.eval()


@pytest.fixture(scope="module")
def step(fixtures_dir):
    io = arrays(fixtures_dir, "aniportrait_lmk2video_step_io.npz")
    context = torch.from_numpy(io["encoder_hidden_states"])                   # (2, 1, 768): zeros, clip
    out = {"io": io}
    with torch.no_grad():
        ref = _seeded(build_reference_unet, fixtures_dir, "reference_unet")
        ref_latents = torch.from_numpy(io["ref_image_latents"]).repeat(2, 1, 1, 1)
        hook = ref.register_forward_hook(lambda _m, _i, output: out.__setitem__("reference_out", output[0]))
        out["written"] = write_reference_caches(ref, ref_latents, context)
        hook.remove()
        # The sampler runs the ReferenceNet on the conditional row alone (the other row is never read).
        out["written_cond_only"] = write_reference_caches(ref, ref_latents[1:], context[1:])
        del ref
        gc.collect()

        guider = _seeded(PoseGuider, fixtures_dir, "pose_guider")
        unet = _seeded(UNet3D, fixtures_dir, "denoising_unet")
        latents = torch.from_numpy(io["latents"])
        pose = guider(torch.from_numpy(io["pose_images"]))
        pose = [torch.cat([f, f]) for f in pose]                                # both guidance halves
        t = torch.from_numpy(io["t"])                                           # 0-dim int64, 999
        out["pred"] = unet(latents.repeat(2, 1, 1, 1, 1), t, context, pose, reference_caches(out["written"]),
                           torch.tensor([False, True]))
        del unet, guider
        gc.collect()
    return out


def test_reference_net_output_without_head(step):
    io = step["io"]
    assert tuple(step["reference_out"].shape) == (2, 320, 32, 32)
    assert max_abs(step["reference_out"], io["reference_unet_out_unused"]) < 1e-4


def test_reference_caches(step):
    io = step["io"]
    written = step["written"]
    names = [str(n) for n in io["bank_module_names"]]
    assert sorted(written) == sorted(names)
    for j, name in enumerate(names):
        cache = written[name].double()
        assert max_abs(cache[1, :16], io[f"bank_{j:02d}_cond_first16tokens"]) < 1e-4
        ours = [cache.sum(), cache.mean(), cache.std(correction=0), cache.abs().max()]
        theirs = [io[f"bank_{j:02d}__{s}"] for s in ("sum", "mean", "std", "absmax")]
        np.testing.assert_allclose([float(v) for v in ours], theirs, rtol=1e-5, atol=1e-3)
    for name in names:
        assert max_abs(step["written_cond_only"][name][0], written[name][1]) < 1e-5
    # What the reader gets: the conditional row, rounded to float16 as AniPortrait's hand-over does.
    cache = reference_caches(written)[names[0]]
    assert cache.dtype == CACHE_DTYPE and tuple(cache.shape) == (1, 64, 1280)
    assert torch.equal(cache[0].float(), written[names[0]][1].half().float())


def test_guided_unet_prediction_includes_float16_caches(step):
    io = step["io"]
    err = max_abs(step["pred"], io["unet_pred"])
    err_if_fp32 = max_abs(step["pred"], io["unet_pred_with_fp32_bank"])
    assert err < 1e-5, err
    # The stored prediction with unrounded caches is 1.8e-5 away; ours is on the rounded side.
    assert err < 0.6 * err_if_fp32, (err, err_if_fp32)


def test_ddim_update(step):
    io = step["io"]
    scheduler = SchedulerConfig().build()
    scheduler.set_timesteps(25)
    assert scheduler.timesteps.tolist() == io["timesteps"].tolist()
    assert torch.equal(scheduler.alphas_cumprod, torch.from_numpy(io["alphas_cumprod"]))
    assert float(scheduler.alphas_cumprod[999]) == 0.0                       # zero terminal SNR
    uncond, cond = step["pred"].chunk(2)
    guided = uncond + float(io["guidance_scale"]) * (cond - uncond)
    assert max_abs(guided, io["noise_pred_cfg"]) < 3e-5
    out = scheduler.step(guided, int(io["t"]), torch.from_numpy(io["latents"]), eta=0.0)
    assert max_abs(out.prev_sample, io["prev_latents"]) < 3e-5
    assert max_abs(out.pred_original_sample, io["pred_original_sample"]) < 3e-5
    # At t = 999 (alpha_bar 0) with v-prediction the clean estimate is -v: the noise has no weight.
    assert torch.allclose(out.pred_original_sample, -guided, atol=1e-6)
    assert int(io["prev_t"]) == int(scheduler.timesteps[1])

"""SadTalker's two published checkpoint layouts: names and shapes as the manifests, strict loading, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sadtalker_seeded import io, manifest, models, packed_checkpoint, seeded, tensor, write_mapping_files

torch = pytest.importorskip("torch")

from voxportrait.errors import InvalidOption, MissingWeights  # noqa: E402
from voxportrait.neural.sadtalker.checkpoints import PACKED_PREFIXES, resolve  # noqa: E402
from voxportrait.neural.sadtalker.models import load_models, new_network  # noqa: E402
from voxportrait.neural.sadtalker.posevae import TRAINING_ONLY_PREFIXES  # noqa: E402
from voxportrait.neural.weights import WEIGHTS  # noqa: E402

pytestmark = pytest.mark.neural
PER_NET_MANIFEST = {
    "expnet": "audio2exp",
    "posevae": "audio2pose",
    "kp_detector": "kp_detector",
    "generator": "generator",
    "he_estimator": "he_estimator",
    "mapping": "mapping",
}


def _shapes(keys) -> dict[str, tuple]:
    return {k.split(".", 1)[1]: tuple(s) for k, s, _ in keys}


@pytest.mark.parametrize("net", sorted(PER_NET_MANIFEST))
def test_module_keys_and_shapes_equal_the_manifests(net):
    m = manifest(PER_NET_MANIFEST[net])
    want = _shapes(m["keys"])
    if net == "posevae":
        want = {k: v for k, v in want.items() if not k.startswith(TRAINING_ONLY_PREFIXES)}
    have = {k: tuple(v.shape) for k, v in new_network(net).state_dict().items()}
    assert have == want
    # The manifest's module keys are the checkpoint keys minus their first component.
    assert all(m["checkpoint_key_to_module_key"][k] == k.split(".", 1)[1] for k, _, _ in m["keys"])


def test_packed_file_splits_into_our_networks():
    keys = manifest("safetensors")["keys"]
    assert {k.split(".", 1)[0] for k, _, _ in keys} == set(PACKED_PREFIXES)
    recon = _shapes([row for row in keys if row[0].startswith("face_3drecon.")])
    have = {k: tuple(v.shape) for k, v in new_network("face_recon").state_dict().items()}
    assert have == recon and sum(p.numel() for p in new_network("face_recon").parameters()) == 24_034_625


def test_safetensors_layout_loads_through_the_weights_table():
    nets = models()
    flat = packed_checkpoint()
    for prefix, net in PACKED_PREFIXES.items():
        state = getattr(nets, net).state_dict()
        for key, value in state.items():
            assert torch.equal(value, flat[f"{prefix}.{key}"]), key
    assert nets.he_estimator is None  # not in the safetensors file (SadTalker never calls it)


@pytest.fixture(scope="module")
def old_layout(tmp_path_factory):
    """The same seeded weights as SadTalker's older .pth release (plus the seeded head-pose estimator)."""
    folder = tmp_path_factory.mktemp("sadtalker-old")
    flat = packed_checkpoint()

    def part(prefix: str) -> dict:
        return {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith(prefix + ".")}

    he = {k.split(".", 1)[1]: v for k, v in seeded(manifest("he_estimator")["keys"]).items()}
    torch.save({"model": part("audio2exp"), "epoch": 300}, folder / "auido2exp_00300-model.pth")
    torch.save({"model": part("audio2pose"), "epoch": 140}, folder / "auido2pose_00140-model.pth")
    torch.save(
        {
            "generator": part("generator"),
            "kp_detector": part("kp_extractor"),
            "he_estimator": he,
            "epoch": 189,
        },
        folder / "facevid2vid_00189-model.pth.tar",
    )
    torch.save({"net_recon": part("face_3drecon"), "epoch": 20}, folder / "epoch_20.pth")
    write_mapping_files(folder)
    return folder


def test_old_pth_layout_loads_the_same_networks(old_layout):
    files = resolve(old_layout, 256, "crop")
    assert files.layout == "pth"
    old = load_models(old_layout)
    new = models()
    for net in ("expnet", "posevae", "face_recon", "kp_detector", "generator", "mapping"):
        a, b = getattr(old, net).state_dict(), getattr(new, net).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), net
    # The old layout also carries the head-pose estimator: check it against its fixture.
    with torch.no_grad():
        he = old.he_estimator(tensor("facerender", "source_image"))
    for head in ("yaw", "pitch", "roll", "t", "exp"):
        np.testing.assert_allclose(he[head].numpy(), io("facerender")[f"he_{head}"], rtol=1e-4, atol=1e-5)


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("sub", ["", "checkpoints", "sadtalker"])
def test_files_are_found_in_each_published_folder(tmp_path, sub, monkeypatch):
    monkeypatch.delenv("VOXPORTRAIT_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = tmp_path / sub
    packed = _touch(base / "SadTalker_V0.0.2_512.safetensors")
    mapping = _touch(base / "mapping_00109-model.pth.tar")
    files = resolve(tmp_path, size=512, preprocess="full")
    assert files.layout == "safetensors"
    assert files.files == {"sadtalker.packed_512": packed, "sadtalker.mapping_full": mapping}


def test_missing_files_are_named_with_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("VOXPORTRAIT_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _touch(tmp_path / "SadTalker_V0.0.2_256.safetensors")
    with pytest.raises(MissingWeights, match="mapping_00229-model.pth.tar") as e:
        resolve(tmp_path)
    assert "OpenTalker/SadTalker" in str(e.value) and "--weights" in str(e.value)
    with pytest.raises(InvalidOption, match="256 or 512"):
        resolve(tmp_path, size=384)
    assert WEIGHTS["sadtalker.packed_256"].relpath == "sadtalker/SadTalker_V0.0.2_256.safetensors"


def test_a_foreign_or_damaged_checkpoint_is_refused(tmp_path):
    from safetensors.torch import save_file

    write_mapping_files(tmp_path)
    save_file({"unet.conv.weight": torch.zeros(1)}, str(tmp_path / "SadTalker_V0.0.2_256.safetensors"))
    with pytest.raises(MissingWeights, match="unexpected key"):
        load_models(tmp_path, networks=("expnet",))
    flat = {k: v for k, v in packed_checkpoint().items() if k.startswith("audio2exp.")}
    flat["audio2exp.mapping1.weight"] = torch.zeros(64, 576)
    save_file(flat, str(tmp_path / "SadTalker_V0.0.2_256.safetensors"))
    with pytest.raises(MissingWeights, match="does not match"):
        load_models(tmp_path, networks=("expnet",))

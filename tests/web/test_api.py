"""The HTTP API end to end on a real server (``voxportrait serve`` on 127.0.0.1, the real animate): submit,
poll, download a playable video of the right length; the Python client; every bad input of the CLI's error
matrix answered with a 4xx and its message."""

from __future__ import annotations

import re

import pytest
from inputs import empty_wav, no_face, silent_video, speech, tiny_face

from voxportrait.media import probe_video, read_frames
from voxportrait.server.client import ApiError, Client


def post(server, files: dict, **fields):
    with server.client() as c:
        return c.post("/v1/animations", files=files, data={k: str(v) for k, v in fields.items()})


def test_submit_poll_download_gives_a_playable_video_of_the_audio_length(real_server, media, tmp_path):
    with open(media["portrait"], "rb") as p, open(media["speech_2s"], "rb") as a:
        # named as nothing in particular: the content says what a file is
        r = post(real_server, {"portrait": ("my face.dat", p), "audio": ("hello.bin", a)}, size=256)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == f"/v1/animations/{job['id']}"
    assert job["state"] in ("queued", "running") and job["options"] == {"render": {"size": 256}}
    assert (job["portrait"], job["audio"]) == ("my face.dat", "hello.bin")
    client = Client(real_server.url)
    seen: list[dict] = []
    status = client.wait(job["id"], poll_s=0.2, timeout_s=300, on_progress=seen.append)
    assert status["result"]["frames"] == 50 and status["result"]["fps"] == "25"
    assert status["result"]["duration_s"] == pytest.approx(2.0)
    assert all(a["progress"]["fraction"] <= b["progress"]["fraction"] for a, b in zip(seen, seen[1:], strict=False))
    with real_server.client() as c:
        video = c.get(status["result"]["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert 'filename="my_face__hello.mp4"' in video.headers["content-disposition"]
    assert len(video.content) == status["result"]["size_bytes"]
    with real_server.client(Range="bytes=0-99") as c:              # what a browser's player asks for
        part = c.get(status["result"]["video_url"])
    assert part.status_code == 206 and part.content == video.content[:100]
    out = tmp_path / "out.mp4"
    out.write_bytes(video.content)
    info = probe_video(out)
    assert info.has_audio and info.duration_s == pytest.approx(2.0, abs=0.05)
    assert sum(1 for _ in read_frames(out)) == 50


def test_the_python_client_animates_and_raises_the_servers_errors(real_server, media, tmp_path):
    client = Client(real_server.url)
    assert client.health()["renderers"]["cpu"] is None
    status = client.animate(media["portrait"], media["speech_1s"], tmp_path / "talk.mp4", size=256,
                            expression_scale=1.5, level_eyes=False)
    assert status["options"] == {"analyze": {"level_eyes": False}, "drive": {"expression_scale": 1.5},
                                 "render": {"size": 256}}
    assert probe_video(tmp_path / "talk.mp4").num_frames == 25
    with pytest.raises(ApiError) as e:
        client.submit(no_face(tmp_path / "landscape.png"), media["speech_1s"])
    assert (e.value.status, e.value.error) == (422, "NoFaceFound")
    assert "no face found in landscape.png" in e.value.message
    client.delete(status["id"])
    with pytest.raises(ApiError) as e:
        client.status(status["id"])
    assert e.value.status == 404


def _case(name, portrait, audio, status, error, message, **fields):
    return pytest.param(portrait, audio, fields, status, error, message, id=name)


# (portrait, audio): a key of `media`, a (name, bytes-maker) pair, or None for a missing field
CASES = [
    _case("missing portrait", None, "speech_1s", 422, "InvalidRequest", r"portrait: Field required"),
    _case("missing audio", "portrait", None, 422, "InvalidRequest", r"audio: Field required"),
    _case("text as portrait", ("notes.png", lambda d: b"just some text, not a picture\n" * 20), "speech_1s",
          415, "UnsupportedMediaType", r"portrait notes\.png holds text.*jpg, png"),
    _case("audio as portrait", "speech_1s", "speech_1s", 415, "UnsupportedMediaType",
          r"portrait speech_1s\.wav holds WAV audio"),
    _case("image as audio", "portrait", "portrait", 415, "UnsupportedMediaType", r"audio portrait\.png holds a PNG"),
    _case("empty portrait", ("empty.jpg", lambda d: b""), "speech_1s", 422, "UnreadableMedia", r"empty \(0 bytes\)"),
    _case("corrupt portrait", ("cut.png", lambda d: d["portrait"].read_bytes()[:20000]), "speech_1s", 422,
          "UnreadableMedia", r"portrait is corrupt or truncated: cut\.png"),
    _case("no face", ("landscape.png", lambda d: no_face(d["dir"] / "landscape.png").read_bytes()), "speech_1s",
          422, "NoFaceFound", r"no face found in landscape\.png: use a photo"),
    _case("tiny face", ("small.png", lambda d: tiny_face(d["dir"] / "small.png").read_bytes()), "speech_1s",
          422, "FaceTooSmall", r"the face in small\.png is \d+ pixels wide, under the 48 pixel minimum"),
    _case("zero-length audio", "portrait", ("silence.wav", lambda d: empty_wav()), 422, "UnreadableMedia",
          r"silence\.wav \(zero-length or corrupt recording\)|contains no audio samples"),
    _case("corrupt audio", "portrait", ("broken.wav", lambda d: empty_wav()[:12] + bytes(range(256)) * 8), 422,
          "UnreadableMedia", r"broken\.wav"),
    _case("video without audio", "portrait", ("clip.mp4", lambda d: silent_video(d["dir"] / "clip.mp4")
                                              .read_bytes()), 422, "UnreadableMedia",
          r"audio has no audio track: clip\.mp4 is a video without sound"),
    _case("audio over the duration cap", "portrait", ("long.wav", lambda d: speech(d["dir"] / "long.wav", 6.0)
                                                      .read_bytes()), 413, "InputTooLarge",
          r"audio long\.wav lasts 6 s, over this server's 5 s limit"),
    _case("upload over the size cap", ("big.png", lambda d: d["portrait"].read_bytes() + bytes(2 * 2**20)),
          "speech_1s", 413, "InputTooLarge", r"the upload is 2\.\d MiB, over this server's 2\.0 MiB limit"),
    _case("option out of range", "portrait", "speech_1s", 422, "InvalidOption",
          r"size must be a number between 128 and 2048, got 5", size=5),
    _case("bad frame rate", "portrait", "speech_1s", 422, "InvalidOption", r"fps must be a positive number",
          fps="fast"),
    _case("not a choice", "portrait", "speech_1s", 422, "InvalidRequest", r"renderer: Input should be 'cpu'",
          renderer="magic"),
    _case("unknown field", "portrait", "speech_1s", 422, "InvalidOption", r"unknown field\(s\): colour",
          colour="blue"),
    _case("server-side path", "portrait", "speech_1s", 422, "InvalidOption", r"unknown field\(s\): weights",
          weights="/etc"),
    _case("renderer without weights", "portrait", "speech_1s", 422, "MissingWeights",
          r"liveportrait renderer needs its checkpoints.*this server cannot run it", renderer="liveportrait"),
]


@pytest.mark.parametrize("portrait,audio,fields,status,error,message", CASES)
def test_bad_input_gets_a_4xx_with_its_message(real_server, media, portrait, audio, fields, status, error,
                                               message):
    files = {}
    for field, spec in (("portrait", portrait), ("audio", audio)):
        if spec is None:
            continue
        if isinstance(spec, str):
            files[field] = (media[spec].name, media[spec].read_bytes())
        else:
            files[field] = (spec[0], spec[1](media))
    jobs = real_server.data_dir / "jobs"
    before = set(jobs.iterdir())
    r = post(real_server, files, **fields)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert re.search(message, r.json()["message"]), r.json()["message"]
    assert str(real_server.data_dir) not in r.text                 # no server path leaks into a message
    assert set(jobs.iterdir()) == before                            # nothing of the request is left behind


def test_requests_that_are_not_multipart_or_name_no_job(real_server):
    with real_server.client() as c:
        r = c.post("/v1/animations", json={"portrait": "face.jpg"})
        assert (r.status_code, r.json()["error"]) == (415, "UnsupportedMediaType")
        assert "multipart/form-data" in r.json()["message"]
        for path in ("/v1/animations/0123", "/v1/animations/..%2F..%2Fetc%2Fpasswd", f"/v1/animations/{'a' * 32}"):
            assert c.get(path).status_code == 404
            assert c.get(path + "/video").status_code == 404
            assert c.delete(path).status_code == 404
        assert c.get("/v1/nothing").status_code == 404

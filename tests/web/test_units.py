"""The server's pure parts on their own: content sniffing, client names and messages, the option fields a
request may set, the job store's rules (order, ownership of a run, recovery, expiry) and part availability."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

import pytest

from voxportrait.neural import availability, weights
from voxportrait.options import SECTIONS, AnimateOptions
from voxportrait.server.forms import SERVER_ONLY, option_fields, options_as_json, overrides_from_form
from voxportrait.server.intake import AUDIO_TYPES, IMAGE_TYPES, client_name, describe, public_message, sniff
from voxportrait.server.store import JobStore, job_dir, new_job_id, valid_job_id

HEADS = {
    "a JPEG image": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "a PNG image": b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d",
    "a WebP image": b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a BMP image": b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00",
    "a TIFF image": b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00", "WAV audio": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "FLAC audio": b"fLaC\x00\x00\x00\x22\x00\x00\x00\x00", "Ogg audio": b"OggS\x00\x02\x00\x00\x00\x00\x00\x00",
    "MP3 audio": b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00", "AAC audio": b"\xff\xf1\x50\x80\x00\x1f\xfc\x00" * 2,
    "an MP4/M4A/MOV file": b"\x00\x00\x00\x20ftypM4A \x00\x00",
    "a WebM/Matroska file": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81",
}


@pytest.mark.parametrize("what,head", HEADS.items())
def test_files_are_known_by_their_first_bytes(what, head):
    table = IMAGE_TYPES if "image" in what else AUDIO_TYPES
    other = AUDIO_TYPES if table is IMAGE_TYPES else IMAGE_TYPES
    assert sniff(head, table)[0] == what
    assert sniff(head, other) is None                 # an image is never taken for audio, nor the reverse
    assert describe(head) == what


def test_bare_mp3_frames_are_audio_and_other_content_is_described():
    assert sniff(b"\xff\xfb\x90\x64" + bytes(8), AUDIO_TYPES)[0] == "MP3 audio"
    assert describe(b"%PDF-1.7\n%\xe2\xe3") == "a PDF document"
    assert describe(b"hello, this is text") == "text"
    assert describe(bytes(range(200, 220))) == "data of an unknown kind"
    assert describe(b"") == "an empty file"


def test_client_names_lose_folders_and_control_characters():
    assert client_name("C:\\Users\\me\\face.jpg", "portrait") == "face.jpg"
    assert client_name("../../etc/passwd", "portrait") == "passwd"
    assert client_name("a\x00b\nc.png", "portrait") == "abc.png"
    assert client_name("", "audio") == client_name(None, "audio") == "audio"
    assert len(client_name("x" * 500, "audio")) == 80


def test_messages_name_the_clients_files_not_the_servers(tmp_path):
    data = tmp_path / "data"
    p = data / "jobs" / ("a" * 32) / "portrait.png"
    msg = f"portrait is corrupt or truncated: {p} (broken); also {data}/jobs/x/y.tmp and {data}"
    out = public_message(msg, {p: "face.png"}, data)
    assert out == "portrait is corrupt or truncated: face.png (broken); also <server file> and <server file>"


def test_requests_may_set_every_option_but_server_paths():
    names = {f.name for _, f in option_fields()}
    every = {f.name for cls in SECTIONS.values() for f in fields(cls)}
    assert names == every - SERVER_ONLY
    free_text = {f.name for _, f in option_fields() if str(f.type).startswith("str") and not f.metadata["choices"]}
    # a new free-text option could be a path on the server: add it to SERVER_ONLY, or here once checked
    assert free_text <= {"pose_style"}, f"review these options before requests may set them: {free_text}"
    assert overrides_from_form({"size": 256, "fps": None, "level_eyes": False, "portrait": "x"}) == {
        "render": {"size": 256}, "analyze": {"level_eyes": False}}
    shown = options_as_json(AnimateOptions())
    assert shown["drive"]["fps"] == "25" and "weights" not in shown["render"]


def _add(store: JobStore, max_queued: int = 100) -> str:
    job_id = new_job_id()
    assert store.add(job_id, {}, "p.png", "a.wav", "portrait.png", "audio.wav", ".mp4", max_queued)
    return job_id


def test_store_runs_jobs_in_order_and_only_the_current_run_may_touch_a_job(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    a, b = _add(store), _add(store)
    assert not store.add(new_job_id(), {}, "p", "a", "p", "a", ".mp4", max_queued=2)      # queue full
    first = store.claim("w1")
    assert (first.id, first.attempt, first.state) == (a, 1, "running")
    assert store.queue_position(store.get(b)) == 0
    assert store.progress(a, 1, "render", 3, 10)
    # the server restarts: the run is given up on and the job queued again, behind nothing (it was first)
    assert store.recover(max_attempts=2) == []
    assert not store.progress(a, 1, "render", 4, 10)              # the old run no longer owns the job
    again = store.claim("w2")
    assert (again.id, again.attempt, again.done) == (a, 2, 0)
    assert store.recover(max_attempts=2) == []
    failed = store.get(a)
    assert (failed.state, failed.error_type) == ("failed", "RenderCrashed")    # cut short twice: given up
    assert "2 time(s)" in failed.error_message
    second = store.claim("w3")
    assert store.give_back(b, second.attempt)                     # a stop does not count as an attempt
    assert store.get(b).attempt == 0 and store.get(b).state == "queued"


def test_store_deletes_cancels_and_expires(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    queued, running, done = _add(store), _add(store), _add(store)
    store.claim("w")                                              # `queued` runs first (FIFO) ...
    store.fail(queued, 1, "NoFaceFound", "no face", ttl_s=100)
    run = store.claim("w")
    assert run.id == running
    assert store.cancel(running) == "running" and store.get(running).state == "cancelled"
    assert not store.progress(running, run.attempt, "render", 1, 2)    # its worker stops at the next report
    assert store.forget_cancelled(running, run.attempt) and store.get(running) is None
    finished = store.claim("w")
    assert store.succeed(done, finished.attempt, "video-1.mp4", {"frames": 1}, ttl_s=0.01)
    time.sleep(0.02)
    assert store.expire(ttl_s=100) == [done]
    assert store.get(done).state == "expired" and store.get(done).output_file is None
    assert store.cancel(queued) == "failed" and store.get(queued) is None
    assert store.cancel(queued) is None


def test_job_ids_are_the_servers_own_and_never_a_path():
    job_id = new_job_id()
    assert valid_job_id(job_id) and len(job_id) == 32
    for bad in ("../etc", "A" * 32, "a" * 31, "a" * 33, "", "a" * 31 + "/"):
        assert not valid_job_id(bad)
        with pytest.raises(ValueError):
            job_dir(Path("/data"), bad)


def test_parts_without_checkpoints_are_unavailable_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    parts = availability.availability()
    assert parts["renderer"]["cpu"] is None and parts["driver"]["phonemes"] is None
    assert "needs its checkpoints: appearance_feature_extractor.pth" in parts["renderer"]["liveportrait"]
    # a key the weights table does not have (a part not in this build) is a reason, not a crash
    monkeypatch.setitem(availability.NEEDS, ("renderer", "liveportrait"), (("liveportrait.not_a_key",),))
    assert "not part of this build" in availability.unavailable_reason("renderer", "liveportrait")
    monkeypatch.setitem(availability.NEEDS, ("renderer", "liveportrait"),
                        (("liveportrait.warping_module", "liveportrait.spade_generator"),))
    folder = tmp_path / "w" / "liveportrait" / "base_models"
    folder.mkdir(parents=True)
    (folder / "spade_generator.pth").write_bytes(b"x")            # either file of a group will do
    assert availability.unavailable_reason("renderer", "liveportrait", tmp_path / "w") is None

"""The job queue under load and through failures, on a real server process (uvicorn on 127.0.0.1).

The workers here run a stand-in for animate (standin.py) that writes a real video slowly, so jobs can be caught
mid-render; the end-to-end tests (test_api.py) run the real animate.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serverproc import ServerProcess

from voxportrait.media import probe_video

SLOW = "standin:slow_animate"


def submit(client: httpx.Client, media: dict, audio: str = "speech_1s", **fields) -> httpx.Response:
    with open(media["portrait"], "rb") as p, open(media[audio], "rb") as a:
        return client.post("/v1/animations", files={"portrait": ("face.png", p), "audio": ("speech.wav", a)},
                           data={k: str(v) for k, v in fields.items()})


def wait_for(client: httpx.Client, job_id: str, predicate, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/v1/animations/{job_id}").json()
        if predicate(status):
            return status
        time.sleep(0.1)
    pytest.fail(f"job {job_id} never reached the expected state; last: {status}")


def finished(status: dict) -> bool:
    return status.get("state") in ("succeeded", "failed", "expired")


def runs(log: Path) -> list[tuple[str, int]]:
    lines = log.read_text().split() if log.exists() else []
    return [(lines[i], int(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_twenty_concurrent_submissions_on_four_workers_all_finish_once(tmp_path, media):
    log = tmp_path / "runs.log"
    with ServerProcess(tmp_path / "data", workers=4, animate=SLOW,
                       env={"STANDIN_LOG": str(log), "STANDIN_FRAME_S": "0.01"}) as server, server.client() as c:
        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(lambda _: submit(c, media), range(20)))
        assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
        ids = [r.json()["id"] for r in responses]
        assert len(set(ids)) == 20
        final = [wait_for(c, i, finished) for i in ids]
        assert [s["state"] for s in final] == ["succeeded"] * 20
        assert all(s["attempt"] == 1 for s in final)
        done = runs(log)
        assert sorted(job for job, _ in done) == sorted(ids)          # each job rendered exactly once
        assert len({pid for _, pid in done}) > 1                       # by more than one worker
        for job_id in ids[:3]:
            video = tmp_path / f"{job_id}.mp4"
            video.write_bytes(c.get(f"/v1/animations/{job_id}/video").content)
            assert probe_video(video).num_frames == 25                 # 1 s at 25 fps
        health = c.get("/v1/health").json()
        assert (health["queued"], health["running"], health["workers_alive"]) == (0, 0, 4)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_server_killed_mid_render_finishes_the_job_after_restart_and_keeps_finished_videos(tmp_path, media):
    log = tmp_path / "runs.log"
    env = {"STANDIN_LOG": str(log), "STANDIN_FRAME_S": "0.05"}
    server = ServerProcess(tmp_path / "data", workers=1, animate=SLOW, env=env).start()
    with server.client() as c:
        first_id = submit(c, media).json()["id"]
        assert wait_for(c, first_id, finished)["state"] == "succeeded"
        before = c.get(f"/v1/animations/{first_id}/video").content
        job_id = submit(c, media, audio="speech_2s").json()["id"]
        wait_for(c, job_id, lambda s: s["progress"]["stage"] == "render" and s["progress"]["done"] >= 5)
    server.kill()
    worker_pid = runs(log)[-1][1]
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid), "the render worker outlived its killed server"

    server = ServerProcess(tmp_path / "data", workers=1, animate=SLOW, env=env).start()
    try:
        with server.client() as c:
            status = wait_for(c, job_id, finished)
            assert status["state"] == "succeeded" and status["attempt"] == 2
            video = tmp_path / "after.mp4"
            video.write_bytes(c.get(f"/v1/animations/{job_id}/video").content)
            assert probe_video(video).num_frames == 50                 # 2 s at 25 fps: the whole job
            assert c.get(f"/v1/animations/{first_id}/video").content == before
            files = sorted(p.name for p in (tmp_path / "data" / "jobs" / job_id).iterdir())
            assert files == ["audio.wav", "portrait.png", "video-2.mp4"]   # no partial file of the cut run
    finally:
        server.stop()
    assert [job for job, _ in runs(log)] == [first_id, job_id, job_id]


def test_a_stopped_server_gives_running_jobs_back_and_a_crashed_worker_is_replaced(tmp_path, media):
    env = {"STANDIN_FRAME_S": "0.05"}
    server = ServerProcess(tmp_path / "data", workers=1, animate=SLOW, env=env).start()
    with server.client() as c:
        job_id = submit(c, media, audio="speech_2s").json()["id"]
        wait_for(c, job_id, lambda s: s["progress"]["done"] >= 3)
    assert server.stop() in (0, -15)      # uvicorn ends by re-raising SIGTERM once it has shut down in order
    assert "Traceback" not in server.log.read_text()
    server = ServerProcess(tmp_path / "data", workers=1, animate="standin:crash_once_animate", env=env).start()
    try:
        with server.client() as c:
            status = wait_for(c, job_id, finished)
            # the stopped run does not count; the crashed run does
            assert (status["state"], status["attempt"]) == ("succeeded", 2)
            assert (tmp_path / "data" / "jobs" / job_id / "crashed-once").exists()
            deadline = time.monotonic() + 30
            while c.get("/v1/health").json()["workers_alive"] != 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert c.get("/v1/health").json()["workers_alive"] == 1
    finally:
        server.stop()


def test_delete_stops_a_running_job_and_a_full_queue_answers_503_with_retry_after(tmp_path, media):
    with ServerProcess(tmp_path / "data", workers=1, animate=SLOW, max_queued=1,
                       env={"STANDIN_FRAME_S": "0.1"}) as server, server.client() as c:
        running = submit(c, media, audio="speech_2s").json()["id"]
        wait_for(c, running, lambda s: s["state"] == "running")
        queued = submit(c, media)
        assert queued.status_code == 202 and queued.json()["queue_position"] == 0
        full = submit(c, media)
        assert full.status_code == 503
        assert full.json()["error"] == "QueueFull" and "Retry-After" in full.json()["message"]
        assert int(full.headers["Retry-After"]) >= 1

        assert c.delete(f"/v1/animations/{running}").status_code == 204
        assert c.get(f"/v1/animations/{running}").status_code == 404
        assert c.delete(f"/v1/animations/{running}").status_code == 404
        folder = tmp_path / "data" / "jobs" / running
        deadline = time.monotonic() + 30
        while folder.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not folder.exists()
        # the worker moved on to the queued job
        assert wait_for(c, queued.json()["id"], finished)["state"] == "succeeded"
        assert c.delete(f"/v1/animations/{queued.json()['id']}").status_code == 204
        assert not (tmp_path / "data" / "jobs" / queued.json()["id"]).exists()


def test_api_key_and_expiry(tmp_path, media):
    key = "k" * 8 + "-secret-test-key"
    with ServerProcess(tmp_path / "data", workers=1, animate=SLOW, api_key=key, result_ttl_s=3) as server:
        with server.client() as anonymous:
            assert anonymous.get("/v1/health").status_code == 200
            denied = submit(anonymous, media)
            assert denied.status_code == 401 and denied.json()["error"] == "Unauthorized"
            assert denied.headers["WWW-Authenticate"] == "Bearer"
        with server.client(Authorization="Bearer wrong-key-of-some-length") as wrong:
            assert wrong.get(f"/v1/animations/{'0' * 32}").status_code == 401
        with server.client(Authorization=f"Bearer {key}") as c, server.client(**{"X-API-Key": key}) as c2:
            job_id = submit(c, media).json()["id"]
            assert wait_for(c2, job_id, finished)["state"] == "succeeded"
            status = wait_for(c, job_id, lambda s: s["state"] == "expired", timeout_s=30)
            assert status["error"]["error"] == "Expired"
            gone = c.get(f"/v1/animations/{job_id}/video")
            assert gone.status_code == 410 and gone.json()["error"] == "Expired"
            assert not (tmp_path / "data" / "jobs" / job_id).exists()

"""The web UI as a person uses it: a real headless Chromium (Debian's chromium, driven by Playwright) drops a
portrait and a recording on ``voxportrait app``, sees the face-analysis preview, renders, and downloads a video
that plays and lasts as long as the recording."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from inputs import PORTRAIT, ROOT, no_face, speech
from serverproc import free_port

from voxportrait.media import probe_video, read_frames

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def app_tmp(tmp_path_factory) -> Path:
    """The app's temporary folder (its previews and videos go below it)."""
    return tmp_path_factory.mktemp("app-tmp")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, app_tmp):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TMPDIR=str(app_tmp))
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "voxportrait", "app", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"voxportrait app did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("the browser test needs Debian's chromium: run scripts/install-test-system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_upload_render_download_in_a_real_browser(app_url, browser, tmp_path):
    clip = speech(tmp_path / "hello.wav", 1.6)
    page = browser.new_page(accept_downloads=True)
    page.goto(app_url)
    page.locator("#portrait input[type=file]").set_input_files(str(PORTRAIT))
    page.locator("#audio input[type=file]").set_input_files(str(clip))
    # the face-analysis preview appears before anything is rendered
    page.wait_for_selector("#face-info :text('1 face(s) found')", timeout=60_000)
    assert page.locator("#preview img").get_attribute("src")
    # neural parts without weights cannot be picked
    assert page.locator("#opt-renderer input[value=liveportrait]").is_disabled()
    assert page.locator("#opt-renderer input[value=cpu]").is_enabled()
    page.locator("#opt-size input").fill("256")
    page.locator("#render").click()
    page.wait_for_selector("#download:not([disabled]), [data-testid=toast-body].error", timeout=300_000)
    errors = page.locator("[data-testid=toast-body].error")
    assert not errors.count(), f"the page reported: {errors.first.inner_text()}"
    page.wait_for_selector("#summary :text('frames')")
    assert "40 frames, 1.60 s at 25 fps" in page.locator("#summary").inner_text()
    # the browser's own player loads it and knows its length
    duration = page.locator("#result video").evaluate(
        "v => new Promise(ok => v.readyState >= 1 ? ok(v.duration) : v.addEventListener('loadedmetadata', "
        "() => ok(v.duration)))")
    assert duration == pytest.approx(1.6, abs=0.1)
    with page.expect_download() as download:
        page.locator("#download").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".mp4"
    info = probe_video(saved)
    assert info.has_audio and info.duration_s == pytest.approx(1.6, abs=0.05)
    assert sum(1 for _ in read_frames(saved)) == info.num_frames == 40
    page.close()


def test_a_portrait_without_a_face_is_explained_before_rendering(app_url, browser, tmp_path):
    page = browser.new_page()
    page.goto(app_url)
    page.locator("#portrait input[type=file]").set_input_files(str(no_face(tmp_path / "landscape.png")))
    page.wait_for_selector("#face-info :text('Cannot use this portrait')", timeout=60_000)
    assert "no face found" in page.locator("#face-info").inner_text()
    page.close()


def test_stop_ends_a_render_at_once_and_leaves_no_file(app_url, browser, app_tmp):
    page = browser.new_page()
    page.goto(app_url)
    page.locator("#portrait input[type=file]").set_input_files(str(PORTRAIT))
    page.locator("#audio input[type=file]").set_input_files(str(ROOT / "examples" / "speech.wav"))   # 9 s
    page.wait_for_selector("#face-info :text('1 face(s) found')", timeout=60_000)
    page.locator("#render").click()
    page.wait_for_selector("#result :text('render')", timeout=60_000)        # frames are being written
    assert list(app_tmp.glob("voxportrait-app-*/*/.*.mp4"))                  # animate's temporary file
    page.locator("#stop").click()
    deadline = time.monotonic() + 30
    while list(app_tmp.glob("voxportrait-app-*/*/.*.mp4")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(app_tmp.glob("voxportrait-app-*/*/.*.mp4"))
    assert not list(app_tmp.glob("voxportrait-app-*/*/portrait__speech.mp4"))
    assert page.locator("#download").is_disabled()
    assert not page.locator("[data-testid=toast-body].error").count()
    page.close()

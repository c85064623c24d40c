"""End to end in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Uploads a generated wav on the Classify page and checks that each model's prediction appears.
Skips when Chromium is not installed (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from core.synth import genre_like, write
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "GENRELAB_YAMNET_HANDLE"}
    env["GENRELAB_RUNS_DIR"] = str(tmp_path / "runs")  # the bundled YAMNet: no network needed
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_upload_on_classify_shows_every_model(server, tmp_path):
    from playwright.sync_api import sync_playwright

    clip = write(tmp_path / "browser test.wav", genre_like(3, 10.0), 22050)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server + "/classify", wait_until="networkidle")
        page.get_by_text("Classify a song").first.wait_for(timeout=60_000)
        # A deep link into a fresh server still gets the app's router and sidebar.
        sidebar = page.locator("[data-testid=stSidebar]")
        sidebar.get_by_text("Compare models").wait_for(timeout=30_000)
        sidebar.get_by_text("YAMNet handle").wait_for(timeout=30_000)
        page.locator("input[type=file]").first.set_input_files(str(clip))
        for label in ("MFCC-MLP", "mel-CNN", "YAMNet", "Ensemble"):
            page.locator("[data-testid=stMetricLabel]", has_text=label).first.wait_for(
                timeout=240_000)
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(tmp_path / "classify.png"), full_page=True)
        browser.close()

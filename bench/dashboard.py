"""Dashboard latency in a real browser: `streamlit run` to a Classify page showing its uploader,
then to the page ready for songs (models loaded and warmed up), the first upload to every
model's prediction, and uploads of other songs in fresh pages (median). Needs Debian's chromium.
Usage: python -m bench.dashboard [--warm 3]
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import ROOT, SHARED, header, save
from core.synth import genre_like, write


def open_classify(page: Any, url: str) -> None:
    """Open the Classify page and wait until it asks for songs (the uploader is drawn before the
    models load; the request for songs comes once they are loaded and warmed up)."""
    page.goto(url + "/classify")
    page.locator("input[type=file]").first.wait_for(state="attached", timeout=120_000)
    page.get_by_text("Upload one or more songs").wait_for(timeout=300_000)


def upload_seconds(page: Any, clip: Path) -> float:
    """Seconds from handing ``clip`` to an idle Classify page's uploader to the ensemble's answer."""
    t = time.perf_counter()
    page.locator("input[type=file]").first.set_input_files(str(clip))
    page.locator("[data-testid=stMetricLabel]", has_text="Ensemble").first.wait_for(
        timeout=300_000)
    return time.perf_counter() - t


def main(warm: int = 3) -> dict[str, object]:
    header("dashboard latency")
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not installed: skipped")
        return {}
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    tflite = SHARED / "models/yamnet-int8-embeddings.tflite"
    if "GENRELAB_YAMNET_HANDLE" not in env and tflite.is_file():
        env["GENRELAB_YAMNET_HANDLE"] = str(tflite)
    with tempfile.TemporaryDirectory() as tmp:
        clips = [write(Path(tmp) / f"clip{k}.wav", genre_like(k % 10, 30.0, seed=k), 22050)
                 for k in range(warm + 1)]  # distinct songs: an analysed upload is cached
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
                                 "--server.port", str(port), "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page()
                page.goto(url + "/classify")
                page.locator("input[type=file]").first.wait_for(state="attached", timeout=120_000)
                ready = time.perf_counter() - start
                page.get_by_text("Upload one or more songs").wait_for(timeout=300_000)
                loaded = time.perf_counter() - start
                first = upload_seconds(page, clips[0])
                warm_s = []
                for clip in clips[1:]:
                    fresh = browser.new_page()
                    open_classify(fresh, url)
                    warm_s.append(upload_seconds(fresh, clip))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"`streamlit run` to a Classify page with its uploader: {ready:.1f} s; models loaded "
          f"and warmed up: {loaded:.1f} s")
    print(f"first upload of a 30-s wav to every model's prediction (the page waited for the "
          f"models to load and warm up first): {first:.1f} s")
    result: dict[str, object] = {"start_to_classify_page_s": ready, "start_to_models_ready_s": loaded,
                                 "upload_to_predictions_s": first}
    if warm_s:
        result["warm_upload_to_predictions_s"] = statistics.median(warm_s)
        print(f"upload of another 30-s wav in a fresh page, models loaded: median "
              f"{statistics.median(warm_s):.2f} s over {len(warm_s)} songs")
    save("dashboard", result)
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3, help="uploads once the models are loaded")
    main(parser.parse_args().warm)

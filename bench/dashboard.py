"""Dashboard latency in a real browser: `streamlit run` to a rendered Classify page, and upload
to predictions. Needs Debian's chromium.
Usage: python -m bench.dashboard
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, SHARED, header, save
from core.synth import genre_like, write


def main() -> dict[str, object]:
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
        clip = write(Path(tmp) / "clip.wav", genre_like(2, 30.0), 22050)
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
                t = time.perf_counter()
                page.locator("input[type=file]").first.set_input_files(str(clip))
                page.locator("[data-testid=stMetricLabel]", has_text="Ensemble").first.wait_for(
                    timeout=300_000)
                first = time.perf_counter() - t
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"`streamlit run` to a rendered Classify page: {ready:.1f} s")
    print(f"upload of a 30-s wav to every model's prediction (first, models loading): {first:.1f} s")
    result = {"start_to_classify_page_s": ready, "upload_to_predictions_s": first}
    save("dashboard", result)
    return result


if __name__ == "__main__":
    main()

"""End to end in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Uploads a generated wav on the Classify page and checks that each model's prediction appears,
downloads its song card, then exports the Report page's HTML and PDF and opens the HTML in the
same browser: every chart must show its axis titles and genre names inside its own box, on
screen and in print. Skips when Chromium is not installed (`.ci/run` installs it). Set
``GENRELAB_SCREENSHOTS`` to a folder to keep the screenshots.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.synth import genre_like, write
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Per chart of the exported report: its kind, axis titles, tick labels and where each lies.
_CHART_LAYOUT = """() => [...document.querySelectorAll('.chart')].map(chart => {
  const plot = chart.querySelector('.js-plotly-plot').getBoundingClientRect();
  const box = el => { const r = el.getBoundingClientRect();
    return {text: el.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom}; };
  const all = sel => [...chart.querySelectorAll(sel)].map(box);
  return {kind: chart.dataset.chart, plot: {x0: plot.left, x1: plot.right, y0: plot.top,
          y1: plot.bottom}, titles: all('.xtitle, .ytitle'), ticks: all('.xtick text, .ytick text')};
})"""


def _check_charts(charts: list[dict], genres: set[str]) -> None:
    """Every chart has both axis titles and its tick labels, none outside the chart's box."""
    assert [c["kind"] for c in charts] == ["per_genre", "confusion", "savings"]
    for chart in charts:
        plot = chart["plot"]
        assert len(chart["titles"]) == 2, chart["kind"]  # x and y axis titles
        for item in chart["titles"] + chart["ticks"]:
            assert item["text"].strip() and item["x1"] > item["x0"], (chart["kind"], item)
            assert plot["x0"] - 1 <= item["x0"] and item["x1"] <= plot["x1"] + 1, (chart["kind"], item)
            assert plot["y0"] - 1 <= item["y0"] and item["y1"] <= plot["y1"] + 1, (chart["kind"], item)
    ticks = {c["kind"]: {t["text"] for t in c["ticks"]} for c in charts}
    assert genres <= ticks["per_genre"] and genres <= ticks["confusion"]  # predicted genres
    assert {t.split(" (")[0] for t in ticks["confusion"]} >= genres  # "blues (17)": true genres
    assert {"people only", "GenreLab + review"} <= ticks["savings"]


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
        shots = Path(os.environ.get("GENRELAB_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "classify.png"), full_page=True)

        # The song card: a PNG that Chromium shows
        with page.expect_download(timeout=120_000) as card:
            page.get_by_role("button", name="Song card (PNG)").click()
        card_path = tmp_path / "card.png"
        card.value.save_as(card_path)
        assert card_path.read_bytes().startswith(b"\x89PNG")

        # The report: export both files from the Report page
        sidebar.get_by_text("Report", exact=True).click()
        page.get_by_text("Export report (HTML)").wait_for(timeout=60_000)
        exported = {}
        for kind in ("HTML", "PDF"):
            with page.expect_download(timeout=120_000) as download:
                page.get_by_role("button", name=f"Export report ({kind})").click()
            exported[kind] = tmp_path / f"report.{kind.lower()}"
            download.value.save_as(exported[kind])
        assert exported["PDF"].read_bytes().startswith(b"%PDF")
        page.screenshot(path=str(shots / "report-page.png"), full_page=True)

        viewer = browser.new_page(viewport={"width": 1200, "height": 900})
        viewer.goto(card_path.as_uri())
        assert viewer.evaluate("document.images[0].naturalWidth") >= 1500
        viewer.goto(exported["HTML"].as_uri())
        viewer.locator(".chart .main-svg").nth(2).wait_for(timeout=30_000)
        text = viewer.locator("body").inner_text()
        for part in ("Generated on", "test split", "Songs per year", "Money saved per year",
                     "Why these numbers are lower than published ones"):
            assert part in text, part
        genres = {"blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                  "reggae", "rock"}
        _check_charts(viewer.evaluate(_CHART_LAYOUT), genres)
        viewer.screenshot(path=str(shots / "report-html.png"), full_page=True)
        # on paper: A4 at 96 dpi is 794 px wide; every chart fits between 14-mm margins
        viewer.emulate_media(media="print")
        viewer.set_viewport_size({"width": 688, "height": 1000})
        charts = viewer.evaluate(_CHART_LAYOUT)
        _check_charts(charts, genres)
        assert max(c["plot"]["x1"] for c in charts) <= 688 + 1
        browser.close()

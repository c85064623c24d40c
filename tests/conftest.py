from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip cleanly without it."""
    if not (SHARED / "data" / "gtzan").is_dir():
        pytest.skip("../shared is not present (real-data tests skipped)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own feature cache; the user's cache is never touched."""
    monkeypatch.setenv("GENRELAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A tiny synthetic folder-per-genre set (three genres of six 3-s clips at 22.05 kHz) and a
    random split of it, once per test module."""
    import warnings

    from core.datasets import load_dataset
    from core.splits import make_split
    from core.synth import genre_like, write

    root = tmp_path_factory.mktemp("tiny")
    for k, genre in enumerate(["low", "mid", "high"]):
        for i in range(6):
            write(root / genre / f"{genre}{i}.wav", genre_like(2 * k, 3.0, seed=10 * k + i), 22050)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset(root, "folders")
    return data, make_split(data, "random", seed=0)


@pytest.fixture
def train_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The dashboard opened on its Train page (an ``AppTest``), runs saved under ``tmp_path``."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120).run()
    return app.switch_page("../pages/train.py").run()


def start_on_an_empty_folder(app, folder: Path):
    """Start the Train page's job on ``folder`` (made empty: a missing one is refused before any
    job starts) and wait for it to end: the job it made, which must have failed with a message
    naming the folder, not a traceback."""
    import time

    folder.mkdir(parents=True, exist_ok=True)
    app.text_input(key="train_data").set_value(str(folder))
    app.selectbox(key="train_layout").set_value("folders")
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception
    job = app.session_state["train_job"]
    for _ in range(600):
        if not job.running:
            break
        time.sleep(0.1)
    assert job.error and folder.name in job.error
    app.run()  # redrawn with the job over: the Start button is enabled again
    return job

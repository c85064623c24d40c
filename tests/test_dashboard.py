"""Every page renders without exception and shows its key elements (streamlit AppTest)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from core.synth import genre_like, make_demo_dataset
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)  # the bundled YAMNet
    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def wav_bytes(y: np.ndarray, sr: int = 22050) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format="WAV")
    return buffer.getvalue()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [str(x.label) + " " + str(x.value) for x in at.metric]
    return "\n".join(str(p) for p in parts)


def test_home(app):
    assert app.title[0].value.endswith("GenreLab")
    assert "MFCC-MLP" in _texts(app)
    assert len(app.dataframe) == 1  # the loaded models with their card metrics


def test_classify_predicts_with_every_bundled_model(app):
    app.switch_page("../pages/classify.py").run()
    assert not app.exception and not app.error
    app.file_uploader[0].set_value(("demo song.wav", wav_bytes(genre_like(2, 12.0)), "audio/wav"))
    app.run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    labels = {m.label for m in app.metric}
    assert {"MFCC-MLP", "mel-CNN", "YAMNet", "Ensemble"} <= labels
    assert any("agree" in s.value or "disagree" in s.value
               for s in list(app.success) + list(app.warning))

    # Why this genre: on demand, one sentence per model and the ensemble's contributions
    next(b for b in app.button if b.label == "Explain the answers").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    said = "\n".join(m.value for m in app.markdown)
    for label in ("**MFCC-MLP** · Heard as", "**mel-CNN** · Heard", "**YAMNet** · Heard:",
                  "**Ensemble** · The ensemble prefers"):
        assert label in said, said

    # The song, its results and its explanations survive a visit to another page
    app.switch_page("../pages/home.py").run()
    app.switch_page("../pages/classify.py").run()
    assert not app.exception
    assert "demo song.wav" in [h.value for h in app.subheader]
    assert {"MFCC-MLP", "Ensemble"} <= {m.label for m in app.metric}
    assert any("you added before" in c.value for c in app.caption)
    assert "**Ensemble** · The ensemble prefers" in "\n".join(m.value for m in app.markdown)
    next(b for b in app.button if b.label == "Clear songs").click().run()
    assert not app.metric and "Upload one or more songs" in app.info[0].value


def test_classify_several_files_gives_a_table_and_bad_files_an_error(app):
    app.switch_page("../pages/classify.py").run()
    app.file_uploader[0].set_value([
        ("a.wav", wav_bytes(genre_like(1, 6.0)), "audio/wav"),
        ("b.wav", wav_bytes(genre_like(4, 6.0)), "audio/wav"),
        ("broken.wav", b"this is not audio", "audio/wav"),
        ("cut.wav", wav_bytes(genre_like(6, 12.0))[:132_344], "audio/wav"),  # 3 s of 12
    ])
    app.run()
    assert not app.exception
    assert any("broken.wav" in e.value for e in app.error)
    table = app.dataframe[0].value
    assert list(table["file"]) == ["a.wav", "b.wav", "cut.wav"]
    assert list(table.columns[:5]) == ["file", "duration (s)", "notes", "answer", "confidence"]
    assert {"MFCC-MLP", "mel-CNN confidence", "YAMNet", "ensemble's top genre"} <= set(table.columns)
    assert list(table["notes"]) == ["", "", "only 3.0 s of the 12.0 s its header declares could "
                                    "be decoded (a truncated file?); what decodes is used."]
    app.selectbox(key="detail").set_value("cut.wav").run()
    assert "cut.wav: only 3.0 s of the 12.0 s" in "\n".join(w.value for w in app.warning)


def test_compare(app):
    from dashboard.resources import BUNDLED_NAME, RESEARCH_MODELS, RESEARCH_NAME

    app.switch_page("../pages/compare.py").run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    bundled = {"MFCC-MLP", "mel-CNN", "YAMNet"}  # display names
    if (RESEARCH_MODELS / "logreg").is_dir():  # the research families rank beside them
        assert app.multiselect(key="compare_sets").value == [BUNDLED_NAME, RESEARCH_NAME]
        shown = {m.rpartition(" (")[0]: m.rpartition(" (")[2] for m in table["model"]}
        assert {n for n, s in shown.items() if s == f"{BUNDLED_NAME})"} == bundled | {"Ensemble"}
        assert {n for n, s in shown.items() if s == f"{RESEARCH_NAME})"} == {
            "Logistic regression", "Boosted trees", "MFCC-LSTM", "MFCC-CNN", "VGG transfer"}
        app.multiselect(key="compare_sets").set_value([BUNDLED_NAME]).run()
        table = app.dataframe[0].value
    assert set(table["model"]) == bundled | {"Ensemble"}  # the set's ensemble beside its models
    ensemble = json.loads((ROOT / "assets/models/ensemble.json").read_text())["metrics"]["track"]
    row = table.set_index("model").loc["Ensemble"]
    assert row["accuracy (95% CI)"].startswith(f"{ensemble['accuracy']:.3f} (")
    assert row["test tracks"] == ensemble["n"]
    members = table.set_index("model").loc[sorted(bundled), "parameters"]
    assert row["parameters"] == members.sum()  # what it runs: its three models together
    accuracy = table["accuracy (95% CI)"].str.extract(r"^(0\.\d+) \((0\.\d+)-(0\.\d+)\)$")
    assert accuracy.notna().all().all()  # every accuracy with its interval
    assert (accuracy.astype(float)[1] <= accuracy.astype(float)[0]).all()
    assert not table.isin(["None", "nan"]).any().any() and not table.isna().any().any()
    assert table["size (MB)"].str.fullmatch(r"\d+\.\d\d").all()  # "1.00", never "1"
    assert table["inference (ms/clip)"].str.fullmatch(r"n/a|\d+\.\d+").all()  # never "0"
    # one confusion matrix at a time, its rows naming their number of test songs
    assert app.selectbox(key="compare_confusion_model").value in {"mlp", "cnn", "yamnet"}
    app.selectbox(key="compare_confusion_model").set_value("ensemble").run()
    assert not app.exception and "Ensemble: true genre" in app.get("plotly_chart")[1].proto.spec
    app.multiselect(key="compare_models").set_value(["cnn", "yamnet"]).run()  # unpicked
    assert "Ensemble" not in set(app.dataframe[0].value["model"])
    app.radio(key="compare_level").set_value("segment").run()
    assert not app.exception
    # segments are counted as segments, and get no interval (they are not independent)
    table = app.dataframe[0].value.set_index("model")
    cnn = json.loads((ROOT / "assets/models/cnn/metrics.json").read_text())["metrics"]["segment"]
    assert table.loc["mel-CNN", "test segments"] == cnn["n"] > ensemble["n"]
    assert "test tracks" not in table and table.loc["mel-CNN", "accuracy"] == f"{cnn['accuracy']:.3f}"
    assert "segments of one track are not independent" in _texts(app)
    specs = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert any("Per-genre accuracy (segment level)" in spec for spec in specs)
    assert any("true genre (test segments)" in spec for spec in specs)
    assert not any("(track level)" in spec or "test songs" in spec for spec in specs)


def _open_explore(app, folder):
    app.switch_page("../pages/explore.py").run()
    app.text_input(key="explore_path").set_value(str(folder))
    app.selectbox(key="explore_layout").set_value("folders")
    app.run()


def test_explore_on_a_synthetic_dataset(app, tmp_path):
    make_demo_dataset(tmp_path / "demo", genres=3, per_genre=5, seconds=3.0)
    _open_explore(app, tmp_path / "demo")
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert "15 tracks, 3 genres" in _texts(app)
    app.radio(key="explore_method").set_value("t-SNE").run()
    assert not app.exception and not app.error


def test_explore_map_axes_say_what_they_are():
    import numpy as np
    import pandas as pd

    from dashboard.explore import project
    from dashboard.figures import embedding_map

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(12, 4)) * [5, 2, 1, 0.1], columns=list("abcd"))
    table.insert(0, "label", ["rock", "pop"] * 6)
    table.insert(0, "track", [f"t{i}" for i in range(12)])
    points, _ = project(table, "PCA", summary=False)
    x_title, y_title = points.attrs["axes"]
    assert x_title.startswith("PC1 (") and x_title.endswith("% of the variance)")
    fig = embedding_map(points, title="t")
    assert fig.layout.xaxis.title.text == x_title and fig.layout.yaxis.title.text == y_title
    assert fig.layout.legend.title.text == "genre"
    points, _ = project(table, "t-SNE", summary=False)
    assert embedding_map(points, title="t").layout.xaxis.title.text.startswith("t-SNE 1")


def test_explore_bad_path_shows_an_error(app, tmp_path):
    app.switch_page("../pages/explore.py").run()
    app.text_input(key="explore_path").set_value(str(tmp_path / "missing"))
    app.selectbox(key="explore_layout").set_value("gtzan")
    app.run()
    assert not app.exception
    assert any("not found" in e.value for e in app.error)


def test_train_page_renders(app, tmp_path):
    app.switch_page("../pages/train.py").run()
    assert not app.exception and not app.error
    assert "Nothing is training" in " ".join(i.value for i in app.info)
    # a path with nothing there is refused before any job starts
    app.text_input(key="train_data").set_value(str(tmp_path / "no-such-collection"))
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception and "train_job" not in app.session_state
    assert any("Nothing is at" in e.value and "no-such-collection" in e.value for e in app.error)


def test_train_page_trains_a_model_set_with_the_chosen_seeds(app, tmp_path):
    import json
    import time

    from core.synth import write

    data = tmp_path / "music"
    for k, genre in enumerate(["low", "mid", "high"]):
        for i in range(5):
            write(data / genre / f"{genre}{i}.wav", genre_like(2 * k, 3.0, seed=10 * k + i), 22050)
    (data / "low" / "broken.wav").write_bytes(b"not audio" * 50)
    app.switch_page("../pages/train.py").run()
    app.text_input(key="train_data").set_value(str(data))
    app.selectbox(key="train_layout").set_value("folders")
    app.multiselect(key="train_models").set_value(["mlp"])
    app.number_input(key="train_epochs").set_value(3)
    app.number_input(key="train_members").set_value(2)
    app.text_input(key="train_name").set_value("tiny")
    # the form keeps its values across a visit to another page
    app.switch_page("../pages/home.py").run()
    app.switch_page("../pages/train.py").run()
    assert app.text_input(key="train_data").value == str(data)
    assert app.number_input(key="train_members").value == 2
    assert app.multiselect(key="train_models").value == ["mlp"]
    assert app.text_input(key="train_name").value == "tiny"
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception and not app.error
    job = app.session_state["train_job"]
    deadline = time.time() + 120
    while job.running and time.time() < deadline:
        time.sleep(0.5)
    assert job.error is None and job.results["mlp"].startswith("trained"), job.results
    meta = json.loads((tmp_path / "runs" / "tiny" / "mlp" / "metadata.json").read_text())
    assert meta["hyperparameters"]["members"] == 2 and meta["hyperparameters"]["epochs"] == 3
    assert (tmp_path / "runs" / "tiny" / "mlp" / "trained_tracks.json").is_file()
    # a finished training links to its model set, and says what it could not use
    app.run()
    assert not app.exception
    assert any(w.value.startswith("MFCC-MLP: 1 file could not be read and did not take part "
                                  "(e.g. broken.wav: ") for w in app.warning), \
        [w.value for w in app.warning]
    assert any("Model set **tiny** is saved" in s.value for s in app.success)
    next(b for b in app.button if b.label == "Compare its models").click().run()
    assert not app.exception and app.session_state["model_set"] == "tiny"
    assert app.title[0].value == "Compare models"
    # A name taken by a saved set is refused, not overwritten or merged
    app.switch_page("../pages/train.py").run()
    app.text_input(key="train_name").set_value("tiny ✓").run()
    assert any("Saved as **tiny**" in c.value for c in app.caption)
    next(b for b in app.button if b.label == "Start training").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == ["A model set named tiny exists already (MFCC-MLP): "
                                            "give this one another name, so that one is kept as "
                                            "it is."]
    assert app.session_state["train_job"] is job  # nothing started


def test_report(app):
    app.switch_page("../pages/report.py").run()
    assert not app.exception and not app.error
    labels = {m.label for m in app.metric}
    assert {"Best model", "Person-hours saved per year", "Money saved per year"} <= labels
    models = app.dataframe[0].value
    assert {"test split", "test songs", "compared"} <= set(models.columns) and len(models) >= 3
    # every amount in the chosen currency; typed-in inputs survive a visit to another page
    app.selectbox(key="report_currency").set_value("GBP").run()
    app.number_input(key="report_human_cost").set_value(45.0).run()
    assert {m.label: m.value for m in app.metric}["Money saved per year"].endswith(" GBP")
    assert any(n.label == "Human cost per hour (GBP/h)" for n in app.number_input)
    app.switch_page("../pages/home.py").run()
    app.switch_page("../pages/report.py").run()
    assert not app.exception
    assert app.selectbox(key="report_currency").value == "GBP"
    assert app.number_input(key="report_human_cost").value == 45.0
    assert {b.label for b in app.get("download_button")} >= {"Export report (HTML)",
                                                             "Export report (PDF)"}


def test_upload_over_the_limit_is_refused(app):
    from streamlit import config

    previous = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        app.switch_page("../pages/classify.py").run()
        big = wav_bytes(genre_like(1, 30.0))  # 1.3 MB
        app.file_uploader[0].set_value([("big.wav", big, "audio/wav"),
                                        ("small.wav", wav_bytes(genre_like(1, 3.0)), "audio/wav")])
        app.run()
    finally:
        config.set_option("server.maxUploadSize", previous)
    assert not app.exception
    assert any("big.wav" in e.value and "upload limit of 1 MB" in e.value for e in app.error)
    assert {"MFCC-MLP", "Ensemble"} <= {m.label for m in app.metric}  # small.wav still classified


def test_bad_corpus_uploads_get_messages_and_the_page_keeps_working(app, tmp_path):
    from tests.test_robustness import bad_corpus

    files = [(p.name, p.read_bytes(), "audio/wav") for name, p in bad_corpus(tmp_path).items()
             if name != "unsupported extension"]
    app.switch_page("../pages/classify.py").run()
    app.file_uploader[0].set_value([*files, ("ok.wav", wav_bytes(genre_like(3, 4.0)), "audio/wav")])
    app.run()
    assert not app.exception
    assert len(app.error) == len(files)
    assert {"MFCC-MLP", "mel-CNN", "YAMNet"} <= {m.label for m in app.metric}


def test_a_corrupt_model_is_reported_and_the_others_work(monkeypatch, tmp_path):
    import shutil

    from core.predict import BUNDLED_MODELS

    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)  # the bundled YAMNet
    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "broken-run"
    shutil.copytree(BUNDLED_MODELS / "mlp", run / "mlp")
    shutil.copytree(BUNDLED_MODELS / "cnn", run / "cnn")
    weights = run / "cnn" / "model.keras"
    weights.write_bytes(weights.read_bytes()[:1000])
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    app.session_state["model_set"] = "broken-run"  # what the sidebar's model-set box sets
    app.run()
    app.switch_page("../pages/classify.py").run()
    app.file_uploader[0].set_value(("x.wav", wav_bytes(genre_like(2, 4.0)), "audio/wav"))
    app.run()
    assert not app.exception
    assert any("cnn" in w.value and "checksum" in w.value for w in app.warning)
    assert "MFCC-MLP" in {m.label for m in app.metric}


def test_two_sessions_classifying_at_once_keep_their_own_results(monkeypatch, tmp_path):
    import threading

    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)  # the bundled YAMNet
    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    sessions = {name: AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=180)
                for name in ("alice.wav", "bob.wav")}
    clips = {"alice.wav": genre_like(0, 8.0, seed=1), "bob.wav": genre_like(5, 5.0, seed=2)}
    for name, at in sessions.items():
        at.run()
        at.switch_page("../pages/classify.py").run()
        at.file_uploader[0].set_value((name, wav_bytes(clips[name]), "audio/wav"))
    threads = [threading.Thread(target=at.run) for at in sessions.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, at in sessions.items():
        assert not at.exception
        headers = [h.value for h in at.subheader]
        assert name in headers and not any(other in headers for other in sessions if other != name)
        analyses = at.session_state["analyses"]
        assert [a.name for a in analyses.values()] == [name]
        assert analyses[next(iter(analyses))].prediction.duration_s == pytest.approx(
            len(clips[name]) / 22050, abs=0.01)


def _evaluate_on(app, data, split):
    app.switch_page("../pages/compare.py").run()
    app.text_input(key="compare_data").set_value(str(data))
    app.selectbox(key="compare_layout").set_value("folders")
    app.selectbox(key="compare_split").set_value(split)
    next(b for b in app.button if b.label == "Evaluate").click().run()
    assert not app.exception


def _gtzan_names(genre: str) -> tuple[str, str]:
    """A GTZAN clip name among the bundled models' test tracks, and one they trained on."""
    import json

    from core.predict import BUNDLED_MODELS

    tested = {t["track_id"] for t in json.loads((BUNDLED_MODELS / "cnn" / "metrics.json")
                                                .read_text())["metrics"]["test_tracks"]}
    trained = set.intersection(*(
        {t["track_id"] for t in json.loads((BUNDLED_MODELS / family / "trained_tracks.json")
                                           .read_text())["tracks"]}
        for family in ("cnn", "yamnet", "mlp")))
    names = [f"{genre}.{i:05d}" for i in range(100)]
    return (next(n for n in names if n in tested), next(n for n in names if n in trained))


def test_compare_evaluates_only_on_tracks_the_models_never_trained_on(app, tmp_path):
    from core.config import GTZAN_GENRES
    from core.synth import write

    for k, genre in enumerate(GTZAN_GENRES):
        for i, name in enumerate(_gtzan_names(genre)):
            write(tmp_path / "gtzan-like" / genre / f"{name}.wav",
                  genre_like(k % 6, 4.0, seed=10 * k + i), 22050)
    from dashboard.resources import BUNDLED_NAME

    app.switch_page("../pages/compare.py").run()
    app.multiselect(key="compare_sets").set_value([BUNDLED_NAME]).run()
    assert app.selectbox(key="compare_split").value == "held-out tracks"  # the default
    app.text_input(key="compare_data").set_value(str(tmp_path / "gtzan-like"))
    app.selectbox(key="compare_layout").set_value("folders")
    next(b for b in app.button if b.label == "Evaluate").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    # the set's ensemble too, on the tracks none of its members trained on
    assert set(table["model"]) == {"MFCC-MLP", "mel-CNN", "YAMNet", "Ensemble"}
    assert (table["test tracks"] == 10).all(), table  # the 10 clips they trained on left out
    assert "split" not in table  # one split for all four: said once, in a caption
    assert any("same split" in c.value and "never trained on" in c.value
               for c in app.caption), [c.value for c in app.caption]
    warnings = [w.value for w in app.warning]
    assert sum("10 of 20 tracks of gtzan-like left out" in w for w in warnings) == 3, warnings


def test_compare_explains_models_that_cannot_be_evaluated(app, tmp_path):
    make_demo_dataset(tmp_path / "demo", genres=3, per_genre=4, seconds=3.0)
    _evaluate_on(app, tmp_path / "demo", "random")
    warnings = " ".join(w.value for w in app.warning)
    assert "the dataset also has drone, pulse, shimmer" in warnings
    assert any("None of the chosen models" in i.value for i in app.info)


def test_explore_maps_yamnet_embeddings(app, tmp_path):
    make_demo_dataset(tmp_path / "demo", genres=3, per_genre=4, seconds=3.0)
    _open_explore(app, tmp_path / "demo")
    app.radio(key="explore_source").set_value("YAMNet embeddings").run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]


def _odd_model_set(tmp_path):
    """A copy of the bundled mel-CNN and MFCC-MLP where the CNN has no blues test songs and
    the MLP was tested on fewer tracks (only metrics.json is edited: the weights still load)."""
    import json
    import shutil

    from core.predict import BUNDLED_MODELS

    run = tmp_path / "runs" / "odd"
    for family in ("cnn", "mlp"):
        shutil.copytree(BUNDLED_MODELS / family, run / family)
    path = run / "cnn" / "metrics.json"
    saved = json.loads(path.read_text())
    track = saved["metrics"]["track"]
    blues = track["per_genre"]["blues"]
    track["n"] -= blues["support"]
    track["per_genre"]["blues"] = {**blues, "support": 0, "recall": 0.0, "precision": 0.0,
                                   "f1": 0.0}
    track["confusion"][0] = [0] * len(track["confusion"][0])
    path.write_text(json.dumps(saved))
    path = run / "mlp" / "metrics.json"
    saved = json.loads(path.read_text())
    saved["metrics"]["test_tracks"] = saved["metrics"]["test_tracks"][:50]
    path.write_text(json.dumps(saved))
    return run


def test_report_and_compare_cannot_mislead(monkeypatch, tmp_path):
    _odd_model_set(tmp_path)
    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)
    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(tmp_path / "runs"))
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    app.session_state["model_set"] = "odd"
    app.run()
    app.switch_page("../pages/report.py").run()
    assert not app.exception and not app.error
    findings = [m.value for m in app.markdown if m.value.startswith("- ")]
    text = "\n".join(findings)
    # the best model is chosen only among models tested alike, and the page says so
    assert {m.label: m.value for m in app.metric}["Best model"] == "mel-CNN"
    assert any("MFCC-MLP were tested on other songs" in w.value for w in app.warning)
    assert "No test songs for blues" in text and "blues (0%" not in text
    import re

    for finding in findings[:1] + [f for f in findings if "mistaken" in f or "Easiest" in f]:
        if re.search(r"\d+%", finding.replace("95% interval", "")):
            assert re.search(r"\d+ of \d+", finding), finding  # every share with its count
    assert any("95% CI" in c.value for c in app.caption)

    app.switch_page("../pages/compare.py").run()
    assert not app.exception
    assert any("tested on different tracks" in w.value for w in app.warning)
    app.selectbox(key="compare_confusion_model").set_value("cnn").run()
    fig = app.get("plotly_chart")[1].proto.spec
    assert "no test songs" in fig and '"blues (0)"' in fig


def test_compare_keeps_picked_models_across_pages(app):
    from dashboard.resources import BUNDLED_NAME

    app.switch_page("../pages/compare.py").run()
    app.multiselect(key="compare_sets").set_value([BUNDLED_NAME]).run()
    app.multiselect(key="compare_models").set_value(["cnn", "yamnet"]).run()
    assert set(app.dataframe[0].value["model"]) == {"mel-CNN", "YAMNet"}
    app.switch_page("../pages/home.py").run()
    app.switch_page("../pages/compare.py").run()
    assert not app.exception and not app.error
    assert app.dataframe, "Compare drew no table after a visit to another page"
    assert app.multiselect(key="compare_models").value == ["cnn", "yamnet"]


def test_leaderboard_says_n_a_where_a_number_was_not_measured(app):
    app.switch_page("../pages/compare.py").run()
    assert not app.exception and not app.error
    board = next(d for d in app.dataframe if "segment accuracy" in d.value.columns)
    ensemble = board.value["model"].str.startswith("Ensemble")
    assert board.value.loc[ensemble, "segment accuracy"].isna().all()  # per track only
    assert board.proto.placeholder == "n/a"  # what the grid shows there, not "None"


def test_explore_takes_every_track_when_its_limit_covers_them(tmp_path):
    """Uneven genres: 'all N tracks' must be all of them, not N // genres of each."""
    from core.datasets import load_dataset
    from core.synth import write
    from dashboard.explore import _first_per_genre

    for genre, n in (("big", 5), ("small", 1)):
        for i in range(n):
            write(tmp_path / genre / f"{genre}{i}.wav", genre_like(i, 1.0, seed=i), 22050)
    dataset = load_dataset(tmp_path, "folders")
    assert len(_first_per_genre(dataset, 6)) == 6  # 6 // 2 genres would have given 3 + 1
    assert len(_first_per_genre(dataset, 4)) == 3  # a smaller limit: up to 2 a genre

"""The leaderboard: rows exactly as saved, flags for models tested elsewhere, the leaky segments
protocol's mechanics, the CLI and the Compare page's section."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from core.cache import FeatureCache
from core.cli import main
from core.datasets import load_dataset
from core.errors import ModelError, ParameterError
from core.leaderboard import (
    LEAKY,
    PUBLISHED,
    build_leaderboard,
    inference_ms_per_segment,
    leaderboard,
    leaky_segment_score,
    leaky_split,
    model_row,
    read_leaky,
    run_leaky,
    run_timing,
    segments_as_tracks,
)
from core.models import MfccMlp
from core.predict import BUNDLED_MODELS
from core.splits import SPLIT_STRATEGIES, make_split
from core.synth import make_demo_dataset
from core.train import train_family
from tests.conftest import ROOT


def _load(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(root, "folders")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic dataset (3 genres, 6-s clips: two 3-s segments each) and a model set of three
    small MLPs: two tested on split random-0 (seeds 0 and 1), one on split random-1."""
    root = tmp_path_factory.mktemp("lb")
    data = _load(make_demo_dataset(root / "data", genres=3, per_genre=6, seconds=6.0))
    cache = FeatureCache(root / "cache")
    run = root / "run"
    for name, split_seed, seed in (("mlp", 0, 0), ("mlp_seed1", 0, 1), ("mlp_other", 1, 0)):
        train_family("mlp", data, make_split(data, "random", seed=split_seed), run / name,
                     seed=seed, epochs=8, members=1, cache=cache)
    return {"data": data, "cache": cache, "run": run, "root": root}


def _saved(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_rows_are_the_saved_metrics_and_a_model_on_another_split_is_flagged(trained):
    run = trained["run"]
    board = leaderboard([run])
    rows = {r["name"]: r for r in board.rows}
    assert set(rows) == {"mlp", "mlp_seed1", "mlp_other"}
    for name, row in rows.items():
        saved = _saved(run / name)
        track, info = saved["metrics"]["track"], saved["info"]
        assert row["accuracy"] == track["accuracy"] and row["macro_f1"] == track["macro_f1"]
        assert row["accuracy_ci"] == track["accuracy_ci"] and row["test_tracks"] == track["n"]
        low, high = row["accuracy_ci"]
        assert 0.0 <= low <= row["accuracy"] <= high <= 1.0
        assert row["parameters"] == info["parameters"] > 0
        assert row["train_seconds"] == info["train_seconds"]
        assert row["inference_ms_per_segment"] == saved["metrics"]["inference_ms_per_segment"]
        assert row["inference_source"] == "measured" and row["family"] == "mlp"
    # random-0 is the split two models share: the third is kept, flagged, and ranked after them
    assert board.reference["split"] == "random-0"
    assert rows["mlp"]["comparable"] and rows["mlp_seed1"]["comparable"]
    assert not rows["mlp_other"]["comparable"] and "random-1" in rows["mlp_other"]["note"]
    assert [r["name"] for r in board.rows][-1] == "mlp_other"
    assert any(n.startswith("mlp_other: tested on other tracks") for n in board.notes)
    # the same split name but other test tracks is flagged too
    copy = trained["root"] / "renamed" / "mlp_other"
    shutil.copytree(run / "mlp_other", copy)
    saved = _saved(copy)
    saved["info"]["split"]["name"] = "random-0"
    (copy / "metrics.json").write_text(json.dumps(saved))
    mixed = build_leaderboard({"a": run / "mlp", "b": run / "mlp_seed1", "c": copy})
    assert [r["comparable"] for r in mixed.rows if r["name"] == "c"] == [False]


def test_on_a_tie_the_larger_test_set_is_the_reference_whatever_the_order(trained):
    run = trained["run"]
    small = run / "mlp_other"  # a few synthetic test tracks
    big = BUNDLED_MODELS / "cnn"  # 129 GTZAN test files
    for models in ({"small": small, "big": big}, {"big": big, "small": small}):
        board = build_leaderboard(models)
        rows = {r["name"]: r for r in board.rows}
        assert board.reference["test_tracks"] == rows["big"]["test_tracks"] > rows["small"]["test_tracks"]
        assert rows["big"]["comparable"] and not rows["small"]["comparable"]


def test_ms_per_segment_derived_from_older_metrics_is_the_same_figure(trained):
    saved = _saved(trained["run"] / "mlp")
    metrics, info = dict(saved["metrics"]), saved["info"]
    measured = metrics.pop("inference_ms_per_segment")
    derived, source = inference_ms_per_segment(metrics, info)
    assert source == "derived" and derived == pytest.approx(measured, rel=1e-9)
    assert inference_ms_per_segment({}, info) == (None, "not saved")


def test_the_bundled_ensemble_is_ranked_only_when_tested_on_the_same_tracks(tmp_path):
    board = leaderboard([BUNDLED_MODELS])
    rows = {r["name"]: r for r in board.rows}
    saved = json.loads((BUNDLED_MODELS / "ensemble.json").read_text())["metrics"]["track"]
    assert rows["ensemble"]["accuracy"] == saved["accuracy"] and rows["ensemble"]["comparable"]
    assert rows["ensemble"]["parameters"] == sum(rows[m]["parameters"] for m in ("mlp", "cnn",
                                                                                "yamnet"))
    copy = tmp_path / "set"
    shutil.copytree(BUNDLED_MODELS, copy, ignore=shutil.ignore_patterns("model.keras"))
    ensemble = json.loads((copy / "ensemble.json").read_text())
    ensemble["fitted_on"]["split"] = "another split"
    (copy / "ensemble.json").write_text(json.dumps(ensemble))
    board = leaderboard([copy])
    assert "ensemble" not in {r["name"] for r in board.rows}
    assert any("ensemble of set is left out" in n and "other tracks" in n for n in board.notes)


def test_leaky_split_ignores_tracks_and_is_seeded():
    split = leaky_split(50, seed=3)
    sides = [split.train, split.valid, split.test]
    assert [len(s) for s in sides] == [35, 5, 10]
    assert np.array_equal(np.sort(np.concatenate(sides)), np.arange(50))  # disjoint, complete
    again = leaky_split(50, seed=3)
    assert np.array_equal(again.test, split.test)
    assert not np.array_equal(leaky_split(50, seed=4).test, split.test)
    with pytest.raises(ParameterError):
        leaky_split(2)
    # the protocol is the leaderboard's alone: no split strategy, no `train --split` choice
    assert "segments" not in SPLIT_STRATEGIES
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", "x", "--layout", "folders", "--split", "segments", "--out", "y"])
    assert exit_info.value.code == 2


def test_segments_protocol_puts_segments_of_one_song_on_both_sides(trained):
    data, run, cache = trained["data"], trained["run"], trained["cache"]
    before = (run / "mlp" / "metrics.json").read_bytes()
    result = run_leaky(run / "mlp", data, cache=cache, epochs=8)
    assert result["status"] == "ok" and result["tracks"] == len(data.manifest)
    assert sum(result["segments"].values()) == 2 * len(data.manifest)  # two segments a clip
    both = set(result["split"]["train"]) & set(result["split"]["test"])
    assert result["tracks_on_both_sides"] == len(both) > 0  # what makes the protocol leak
    m = result["segment"]
    assert m["n"] == result["segments"]["test"]
    assert 0.0 <= m["accuracy_ci"][0] <= m["accuracy"] <= m["accuracy_ci"][1] <= 1.0
    assert read_leaky(run / "mlp") == json.loads((run / "mlp" / LEAKY).read_text())
    # the saved model is untouched, and its row shows the saved leaky figure beside the honest one
    assert (run / "mlp" / "metrics.json").read_bytes() == before
    row = next(r for r in leaderboard([run]).rows if r["name"] == "mlp")
    assert row["leaky"]["accuracy"] == m["accuracy"] and row["leaky"]["accuracy_ci"] == \
        m["accuracy_ci"]
    assert row["accuracy"] == _saved(run / "mlp")["metrics"]["track"]["accuracy"]
    # a result computed for other weights is not shown
    stale = {**result, "weights_sha256": "0" * 64}
    (run / "mlp_seed1" / LEAKY).write_text(json.dumps(stale))
    row = next(r for r in leaderboard([run]).rows if r["name"] == "mlp_seed1")
    assert row["leaky"] is None


def test_segments_protocol_is_na_when_every_track_is_one_row(tmp_path):
    data = _load(make_demo_dataset(tmp_path / "short", genres=2, per_genre=4, seconds=3.0))
    result = leaky_segment_score(MfccMlp(epochs=2, members=1), data)
    assert result["status"] == "n/a" and "one input row per song" in result["reason"]
    assert "segment" not in result
    segments, rows = segments_as_tracks(data, MfccMlp().featurize_dataset(
        data, cache=None, n_jobs=1, progress=False))
    assert list(rows.track) == list(range(len(data.manifest)))
    assert list(segments.manifest["label"]) == list(data.manifest["label"])
    assert segments.manifest["track_id"].is_unique and segments.manifest["group"].is_unique


def test_segments_protocol_on_a_3s_feature_table_is_the_researchs_case(trained, tmp_path):
    """Ten rows of one song in a features_3_sec-style table are one song's segments: they are
    dealt independently (and a 30-s table's one row per song is n/a)."""
    import pandas as pd

    from core.features import SUMMARY_COLUMNS

    data = trained["data"]
    rows = MfccMlp().featurize_dataset(data, cache=trained["cache"], n_jobs=1, progress=False)
    m = data.manifest.iloc[rows.track].reset_index(drop=True)
    number = m.groupby("track_id").cumcount()
    song = {t: f"{label}.{i:05d}" for i, (t, label) in enumerate(zip(data.manifest["track_id"],
                                                                         data.manifest["label"],
                                                                         strict=True))}
    table = pd.DataFrame(rows.X, columns=list(SUMMARY_COLUMNS))
    table.insert(0, "length", 66149)
    table.insert(0, "filename", [f"{song[t]}.{k}.wav" for t, k in zip(m["track_id"], number,
                                                                          strict=True)])
    table["label"] = m["label"].to_numpy()
    table.to_csv(tmp_path / "features_3_sec.csv", index=False)
    three = load_dataset(tmp_path / "features_3_sec.csv", "features-csv")
    assert three.manifest["track_id"].nunique() == len(data.manifest)
    result = leaky_segment_score(MfccMlp(epochs=4, members=1), three)
    assert result["status"] == "ok" and result["tracks"] == len(data.manifest)
    assert result["tracks_on_both_sides"] > 0
    first = table.groupby(table["filename"].str[:-6]).head(1)  # one row per song: a 30-s table
    first.to_csv(tmp_path / "features_30_sec.csv", index=False)
    thirty = load_dataset(tmp_path / "features_30_sec.csv", "features-csv")
    assert leaky_segment_score(MfccMlp(epochs=4, members=1), thirty)["status"] == "n/a"


def test_cli_table_json_and_errors(trained, tmp_path, capsys):
    run = trained["run"]
    assert main(["leaderboard", "--models", str(run), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in printed["rows"]}
    assert by_name["mlp"]["accuracy"] == _saved(run / "mlp")["metrics"]["track"]["accuracy"]
    assert len(printed["published"]) == len(PUBLISHED)
    assert main(["leaderboard", "--models", str(run), "--format", "table"]) == 0
    table = capsys.readouterr().out.splitlines()
    header = next(line for line in table if line.startswith("model "))
    assert "accuracy (95% CI)" in header and "leaky protocol (segments)" in header
    start = header.index("accuracy (95% CI)")
    line = next(line for line in table if line.startswith("mlp "))
    assert line[start:].startswith(f"{by_name['mlp']['accuracy']:.3f} (")  # aligned columns
    assert any("0.93" in line and "features_3_sec" in line for line in table)
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (tmp_path / "missing", empty):
        assert main(["leaderboard", "--models", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(folder) in err and "Traceback" not in err
    assert main(["leaderboard", "--models", str(run), "--leaky"]) == 2
    assert "--leaky needs --data" in capsys.readouterr().err
    with pytest.raises(ModelError):
        leaderboard([])


@pytest.mark.slow
def test_compare_page_leaderboard_shows_the_saved_numbers(trained, monkeypatch):
    from streamlit.testing.v1 import AppTest

    runs = trained["root"] / "runs"
    shutil.copytree(trained["run"], runs / "tiny", dirs_exist_ok=True)
    leaky = run_leaky(runs / "tiny" / "mlp", trained["data"], cache=trained["cache"], epochs=8)
    monkeypatch.delenv("GENRELAB_YAMNET_HANDLE", raising=False)
    monkeypatch.setenv("GENRELAB_RUNS_DIR", str(runs))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    app.session_state["model_set"] = "tiny"
    app.run()
    app.switch_page("../pages/compare.py").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    frames = [d.value for d in app.dataframe]
    board = next(f for f in frames if "leaky protocol (segments)" in f.columns)
    assert set(board["family"]) == {"mlp"}
    rows = board.set_index("model")
    assert set(rows.index) == {"MFCC-MLP", "mlp_seed1", "mlp_other"}  # the palette's names
    for folder, shown in (("mlp", "MFCC-MLP"), ("mlp_seed1", "mlp_seed1"),
                          ("mlp_other", "mlp_other")):
        saved = _saved(runs / "tiny" / folder)
        assert rows.loc[shown, "accuracy"] == saved["metrics"]["track"]["accuracy"]
        assert rows.loc[shown, "macro-F1"] == saved["metrics"]["track"]["macro_f1"]
        assert rows.loc[shown, "test tracks"] == saved["metrics"]["track"]["n"]
        assert rows.loc[shown, "parameters"] == saved["info"]["parameters"]
        assert rows.loc[shown, "train time (s)"] == saved["info"]["train_seconds"]
        assert rows.loc[shown, "ms/segment"] == saved["metrics"]["inference_ms_per_segment"]
    assert rows.loc["MFCC-MLP", "leaky accuracy"] == leaky["segment"]["accuracy"]
    assert rows.loc["mlp_seed1", "leaky protocol (segments)"] == "-"  # not computed
    assert not rows.loc["mlp_other", "comparable"] and rows.loc["mlp_seed1", "comparable"]
    assert any("tested on other tracks" in w.value for w in app.warning)
    published = next(t.value for t in app.table if "published accuracy" in t.value.columns)
    assert len(published) == len(PUBLISHED) and "leaks?" in published.columns


def test_end_to_end_timing_is_saved_shown_and_dropped_for_other_weights(trained, tmp_path, capsys):
    folder = tmp_path / "mlp"
    shutil.copytree(trained["run"] / "mlp", folder)
    assert model_row("mlp", folder)["end_to_end_ms_per_3s"] is None  # never measured
    result = run_timing(folder, seconds=6.0, repeats=3)
    assert len(result["runs_ms"]) == 3 and min(result["runs_ms"]) > 0
    assert result["ms_per_3s"] == pytest.approx(np.median(result["runs_ms"]) * 3.0 / 6.0)
    assert model_row("mlp", folder)["end_to_end_ms_per_3s"] == result["ms_per_3s"]
    saved = json.loads((folder / "timing.json").read_text())
    saved["weights_sha256"] = "0" * 64  # measured for other weights: not shown
    (folder / "timing.json").write_text(json.dumps(saved))
    assert model_row("mlp", folder)["end_to_end_ms_per_3s"] is None
    assert main(["leaderboard", "--models", str(tmp_path), "--timing"]) == 0
    out = capsys.readouterr()
    assert "ms per 3 s of audio, end to end" in out.err and "ms/3 s, end to end" in out.out
    assert model_row("mlp", folder)["end_to_end_ms_per_3s"] is not None  # measured afresh


RESEARCH_MODELS = ROOT / "assets" / "leaderboard"


@pytest.mark.skipif(not (RESEARCH_MODELS / "logreg" / "metadata.json").is_file(),
                    reason="the research families' set is not shipped")
def test_shipped_research_families_rank_beside_the_bundled_set_on_its_test_tracks():
    from core.models import FAMILIES
    from core.registry import read_metrics

    board = leaderboard([BUNDLED_MODELS, RESEARCH_MODELS])
    rows = {row["name"].rpartition("/")[2]: row for row in board.rows}
    assert set(FAMILIES) <= set(rows)  # every family of the contract, in one table
    assert all(row["comparable"] for row in board.rows), board.notes
    assert board.reference["test_tracks"] == len(
        read_metrics(BUNDLED_MODELS / "cnn")["metrics"]["test_tracks"])
    for family in FAMILIES:
        folder = (BUNDLED_MODELS if (BUNDLED_MODELS / family).is_dir() else RESEARCH_MODELS) / family
        saved = read_metrics(folder)["metrics"]["track"]
        assert rows[family]["accuracy"] == saved["accuracy"]
        assert rows[family]["accuracy_ci"] == saved["accuracy_ci"]
        lo, hi = rows[family]["accuracy_ci"]
        assert lo <= rows[family]["accuracy"] <= hi

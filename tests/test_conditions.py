"""Recording conditions (core/conditions.py) and the out-of-fold predictions made under them."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.conditions import (
    FIT_CONDITIONS,
    HELD_OUT_CONDITIONS,
    encoder_delay,
    loud_master,
    lowpass,
    mp3_roundtrip,
    pink_noise,
    spectral_tilt,
    write_condition_copies,
)
from core.errors import ModelError, ParameterError

SR = 22050


def music_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Harmonic tones with an envelope, over a little noise (wide-band, not stationary)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220, 440, 660, 1320, 2640), 1))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)
    return (0.3 * tone * envelope + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def band_db(y: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(10 * np.log10(spectrum[(freqs >= low) & (freqs < high)].sum()))


@pytest.mark.parametrize("name", [*FIT_CONDITIONS, *HELD_OUT_CONDITIONS])
def test_every_condition_keeps_length_and_peak(name: str) -> None:
    y = music_like()
    z = {**FIT_CONDITIONS, **HELD_OUT_CONDITIONS}[name](y, SR)
    assert z.shape == y.shape and z.dtype == np.float32 and np.isfinite(z).all()
    assert np.abs(z).max() == pytest.approx(np.abs(y).max(), rel=1e-5)
    assert not np.allclose(z, y, atol=1e-3)  # it does change the recording
    assert np.corrcoef(y, z)[0, 1] > 0.5  # ... without replacing it


def test_silence_stays_silent() -> None:
    silence = np.zeros(SR, dtype=np.float32)
    for condition in (*FIT_CONDITIONS.values(), *HELD_OUT_CONDITIONS.values()):
        assert not np.abs(condition(silence, SR)).any()


def test_spectral_tilt_has_the_slope_asked_for() -> None:
    y = np.random.default_rng(1).standard_normal(4 * SR).astype(np.float32)
    # 500-707 Hz against 4000-5657 Hz: three octaves apart, so +-2 dB/oct moves them 6 dB.
    for slope in (2.0, -2.0, 4.0):
        z = spectral_tilt(y, SR, db_per_octave=slope)
        change = (band_db(z, 4000, 5657) - band_db(z, 500, 707)) \
            - (band_db(y, 4000, 5657) - band_db(y, 500, 707))
        assert change == pytest.approx(3 * slope, abs=0.3)
    # The slope stops at 100 Hz: below it every band gets the gain of 100 Hz.
    z = spectral_tilt(y, SR, db_per_octave=-2.0)
    gain_low = band_db(z, 25, 50) - band_db(y, 25, 50)
    gain_100 = band_db(z, 90, 100) - band_db(y, 90, 100)
    assert gain_low == pytest.approx(gain_100, abs=0.5)


def test_mp3_roundtrip_is_aligned_and_lossier_at_lower_bitrates() -> None:
    y = music_like(4.0)
    errors = {}
    for kbps in (128, 64):
        z = mp3_roundtrip(y, SR, bitrate_kbps=kbps)
        assert encoder_delay(y, z) == 0  # the encoder's delay is gone, to the sample
        errors[kbps] = float(np.mean((z - y) ** 2))
    assert errors[64] > errors[128] > 0
    with pytest.raises(ParameterError, match="MPEG-1"):
        mp3_roundtrip(y, SR, codec_sr=22050)


@pytest.mark.parametrize("shift", [0, 1, 37, 1105, 4000])
def test_encoder_delay_finds_a_known_shift_after_a_quiet_intro(shift: int) -> None:
    y = np.concatenate([np.zeros(3 * SR, dtype=np.float32), music_like(2.0, seed=3)])
    z = np.concatenate([np.zeros(shift, dtype=np.float32), y])
    assert encoder_delay(y, z) == shift
    short = music_like(0.05, seed=4)  # 1102 samples: shorter than the search window
    assert encoder_delay(short, np.concatenate([np.zeros(shift, np.float32), short])) == shift
    assert encoder_delay(np.zeros(10, np.float32), np.zeros(12, np.float32)) == 0


def test_conditions_refuse_stereo_and_survive_tiny_clips() -> None:
    stereo = np.zeros((SR, 2), dtype=np.float32)
    for condition in (*FIT_CONDITIONS.values(), *HELD_OUT_CONDITIONS.values()):
        with pytest.raises(ParameterError, match="mono"):
            condition(stereo, SR)
        tiny_clip = music_like(0.002)  # 44 samples
        assert condition(tiny_clip, SR).shape == tiny_clip.shape
    assert lowpass(music_like(1.0), 8000).shape == (SR,)  # cutoff above Nyquist: held below it


def test_lowpass_removes_the_top_and_keeps_the_bottom() -> None:
    y = np.random.default_rng(2).standard_normal(2 * SR).astype(np.float32)
    z = lowpass(y, SR)
    assert band_db(y, 8000, 11000) - band_db(z, 8000, 11000) > 30
    # the pass band keeps its shape (the level is the peak's)
    assert abs((band_db(z, 200, 2000) - band_db(z, 2000, 3500))
               - (band_db(y, 200, 2000) - band_db(y, 2000, 3500))) < 1.0


def test_pink_noise_is_added_at_the_snr_asked_for() -> None:
    y = music_like()
    z = pink_noise(y, SR, snr_db=20.0)
    scale = float(z @ y / (y @ y))  # the peak rescaling, undone by least squares
    residual = z - scale * y
    snr = 10 * np.log10(np.sum((scale * y) ** 2) / np.sum(residual ** 2))
    assert snr == pytest.approx(20.0, abs=1.0)
    # pink: as much energy per octave low as high, so far more per hertz at the bottom
    assert band_db(residual, 100, 200) - band_db(residual, 6400, 6500) > 10


def test_loud_master_lowers_the_crest_factor() -> None:
    y = music_like()
    z = loud_master(y, SR)

    def crest(x: np.ndarray) -> float:
        return float(np.abs(x).max() / np.sqrt(np.mean(x ** 2)))

    assert crest(z) < 0.8 * crest(y)


def test_condition_copies_keep_tracks_groups_and_labels(tiny, tmp_path) -> None:
    data, _ = tiny
    conditions = {"duller": FIT_CONDITIONS["duller (-2 dB/oct)"], "loud": loud_master}
    copies = write_condition_copies(data, conditions, tmp_path)
    assert list(copies) == ["duller", "loud"]
    for copy in copies.values():
        for column in ("label", "track_id", "artist", "group"):
            assert copy.manifest[column].tolist() == data.manifest[column].tolist()
        assert copy.genres == data.genres
        assert set(copy.manifest["path"]).isdisjoint(data.manifest["path"])
        for source, target in zip(data.manifest["path"], copy.manifest["path"], strict=True):
            a, b = sf.info(source), sf.info(target)
            assert (a.frames, a.samplerate) == (b.frames, b.samplerate)
    assert not np.allclose(sf.read(copies["loud"].manifest["path"][0])[0],
                           sf.read(data.manifest["path"][0])[0], atol=1e-3)
    # copy i is a recording of source i: it matches it better than any other source
    sources = np.stack([sf.read(path)[0] for path in data.manifest["path"]])
    duller = np.stack([sf.read(path)[0] for path in copies["duller"].manifest["path"]])
    similarity = np.corrcoef(duller, sources)[: len(duller), len(duller):]
    assert (similarity.argmax(axis=1) == np.arange(len(duller))).all()


def test_out_of_fold_tables_predict_each_copy_only_with_models_that_never_saw_its_track(
        tiny, tmp_path) -> None:
    from core.conditions import with_copies
    from core.train import make_model, out_of_fold_tables

    data, _ = tiny
    copies = write_condition_copies(data, {"loud": loud_master}, tmp_path)
    ids = data.manifest["track_id"].to_numpy()
    folds: list[tuple[set[str], int]] = []  # per fold: tracks its models saw, tracks held out

    def fit(inner, kept):  # trains on every recording of the fold's training tracks
        assert kept == copies
        combined, recorded = with_copies(data, kept, inner)
        trained = combined.manifest.iloc[np.r_[recorded.train, recorded.valid]]
        assert set(trained["path"]) > set(data.manifest["path"].iloc[inner.train])
        folds.append((set(trained["track_id"]), len(inner.test)))
        return {"logreg": make_model("logreg").fit(combined, recorded)}

    table = out_of_fold_tables(fit, data, np.arange(len(ids)), folds=3, copies=copies)["logreg"]
    loud = [r for r in table if r.get("condition") == "loud"]
    assert sorted(r["track_id"] for r in table if "condition" not in r) \
        == sorted(r["track_id"] for r in loud) == sorted(ids)
    assert {r["path"] for r in loud} == set(copies["loud"].manifest["path"])
    start = 0  # the table holds each fold's held-out tracks, clean then the copies, fold by fold
    for seen, held_out in folds:
        produced = table[start:start + 2 * held_out]
        start += 2 * held_out
        assert sum("condition" in r for r in produced) == held_out
        assert not seen & {r["track_id"] for r in produced}
    assert start == len(table)


def test_out_of_fold_tables_answer_each_copy_with_models_never_trained_on_its_recording(
        tiny, tmp_path, monkeypatch) -> None:
    """``unseen_copies``: a copy's rows come from models fitted on the other recordings only
    (and never on its track); the originals from models fitted on every recording."""
    import core.train as train
    from core.conditions import with_copies

    data, _ = tiny
    copies = write_condition_copies(
        data, {"loud": loud_master, "duller": lambda y, sr: spectral_tilt(y, sr, db_per_octave=-2)},
        tmp_path)
    ids = data.manifest["track_id"].to_numpy()
    last: dict[str, set[str]] = {}  # what the latest fit trained on

    def fit(inner, kept):
        combined, recorded = with_copies(data, kept, inner) if kept else (data, inner)
        last["kept"] = set(kept)
        last["paths"] = set(combined.manifest["path"].iloc[np.r_[recorded.train, recorded.valid]])
        last["tracks"] = set(combined.manifest["track_id"].iloc[np.r_[recorded.train,
                                                                        recorded.valid]])
        return {"logreg": train.make_model("logreg").fit(combined, recorded)}

    answered: list[tuple[str, set[str], bool]] = []  # recording answered, by a fit on `kept`
    member_tables = train.member_tables

    def spy(models, dataset, rows, **kwargs):
        held_out = dataset.manifest.iloc[rows]
        assert not last["tracks"] & set(held_out["track_id"])
        answered.append((dataset.name, last["kept"], bool(last["paths"] & set(held_out["path"]))))
        return member_tables(models, dataset, rows, **kwargs)

    monkeypatch.setattr(train, "member_tables", spy)
    table = train.out_of_fold_tables(fit, data, np.arange(len(ids)), folds=3, copies=copies,
                                     unseen_copies=True)["logreg"]
    assert len(answered) == 3 * len(copies)
    for name, kept, overlap in answered:
        condition = next(c for c in copies if name.endswith(f"({c})"))
        assert kept == set(copies) - {condition}
        assert not overlap
    for condition in (None, *copies):
        assert sorted(r["track_id"] for r in table if r.get("condition") == condition) \
            == sorted(ids)


def test_out_of_fold_tables_refuse_a_copy_of_another_dataset(tiny, tmp_path) -> None:
    from core.conditions import with_copies
    from core.train import out_of_fold_tables

    data, split = tiny
    copy = write_condition_copies(data.subset(np.arange(5)), {"loud": loud_master}, tmp_path)
    with pytest.raises(ModelError, match="row for row"):
        out_of_fold_tables(lambda inner, kept: {}, data, np.arange(len(data.manifest)),
                           copies=copy)
    shuffled = write_condition_copies(data, {"loud": loud_master}, tmp_path / "all")
    shuffled["loud"].manifest = shuffled["loud"].manifest.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ModelError, match="row for row"):
        with_copies(data, shuffled, split)


def test_with_copies_trains_on_every_recording_and_tests_on_the_originals(tiny, tmp_path) -> None:
    from core.conditions import with_copies
    from core.train import make_model

    data, split = tiny
    copies = write_condition_copies(data, {"loud": loud_master, "mp3": mp3_roundtrip}, tmp_path)
    combined, augmented = with_copies(data, copies, split)
    n = len(data.manifest)
    assert len(combined.manifest) == 3 * n
    assert sorted(combined.manifest["path"].iloc[augmented.train]) == sorted(
        [data.manifest["path"][i] for i in split.train]
        + [c.manifest["path"][i] for c in copies.values() for i in split.train])
    assert augmented.valid.tolist() == split.valid.tolist()
    assert augmented.test.tolist() == split.test.tolist()
    model = make_model("logreg").fit(combined, augmented)
    assert {r["path"] for r in model.metrics_["test_tracks"]} == \
        set(data.manifest["path"].iloc[split.test])
    assert with_copies(data, {}, split) == (data, split)


def test_bundled_heads_and_ensemble_were_built_with_todays_conditions() -> None:
    """The shipped set says what it trained and was fitted under, and it is what the code has
    (a rebuild after changing FIT_CONDITIONS, or the out-of-fold rule, would otherwise go
    unnoticed)."""
    import json

    from core.predict import BUNDLED_MODELS
    from core.registry import read_metrics

    for head in ("cnn", "yamnet"):
        split = read_metrics(BUNDLED_MODELS / head)["info"]["split"]
        assert split["training_recordings"] == ["original", *FIT_CONDITIONS]
    ensemble = json.loads((BUNDLED_MODELS / "ensemble.json").read_text())
    assert list(ensemble["metrics"]["conditions"]) == list(FIT_CONDITIONS)
    side = ensemble["fitted_on"]["side"]
    assert f"{len(FIT_CONDITIONS)} recording conditions: {', '.join(FIT_CONDITIONS)};" in side
    # fitted by the rule the build has now: re-recordings answered by members never trained on them
    assert side.endswith("each re-recording answered by members that never trained on that "
                         "recording)")


def test_cli_trains_on_recordings_and_says_so(tiny, tmp_path, capsys) -> None:
    from pathlib import Path

    from core.cli import main
    from core.registry import read_metrics

    data, _ = tiny
    root = Path(data.manifest["path"].iloc[0]).parents[1]
    for name, extra in (("plain", []), ("recorded", ["--recordings"])):
        assert main(["-q", "train", "--data", str(root), "--layout", "folders", "--models",
                     "logreg", "--jobs", "1", "--out", str(tmp_path / name), *extra]) == 0
    printed = capsys.readouterr().out
    assert "re-recording" in printed and "4 ways" in printed
    plain = read_metrics(tmp_path / "plain" / "logreg")["info"]
    recorded = read_metrics(tmp_path / "recorded" / "logreg")["info"]
    assert "training_recordings" not in plain["split"]
    assert recorded["split"]["training_recordings"] == ["original", *FIT_CONDITIONS]
    assert recorded["split"]["train_tracks"] == plain["split"]["train_tracks"]
    assert recorded["segments"]["train"] == 5 * plain["segments"]["train"]  # every recording
    assert recorded["segments"]["test"] == plain["segments"]["test"]  # originals only


def test_cli_refuses_recordings_of_a_feature_table(tmp_path, capsys) -> None:
    from core.cli import EXIT_ERROR, main
    from tests.test_datasets import make_table

    table = make_table(tmp_path / "table.csv")
    code = main(["train", "--data", str(table), "--layout", "features-csv", "--models", "logreg",
                 "--recordings", "--out", str(tmp_path / "out")])
    assert code == EXIT_ERROR
    assert "needs an audio dataset, not a feature table" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_train_page_passes_the_recordings_option_to_the_job(train_page, tmp_path) -> None:
    from tests.conftest import start_on_an_empty_folder

    app = train_page
    app.multiselect(key="train_models").set_value(["logreg"]).run()
    app.checkbox(key="train_recordings").check().run()
    assert start_on_an_empty_folder(app, tmp_path / "empty-collection").recordings is True
    app.selectbox(key="train_layout").set_value("features-csv")
    (tmp_path / "t.csv").write_text("filename,label\n")  # there: refused for its layout instead
    app.text_input(key="train_data").set_value(str(tmp_path / "t.csv"))
    next(b for b in app.button if b.label == "Start training").click().run()
    assert any("Re-recorded copies are made from audio" in e.value for e in app.error)

"""The exported report: one self-contained page (and a PDF) whose charts print readably."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from dashboard import figures
from dashboard.report import LEAKAGE_NOTE, BusinessCase, _for_print, build_report, report_html

GENRES = ["blues", "pop", "rock"]
WHEN = datetime(2026, 11, 5, 14, 3)


def _entry(accuracy: float, split: str, n: int, *, blues: int = 2) -> dict:
    """A saved model's metrics: ``n`` test songs, ``blues`` of them blues (0: no blues songs)."""
    pop = (n - blues) // 2
    rock = n - blues - pop
    confusion = [[blues, 0, 0], [0, pop - 1, 1], [0, 1, rock - 1]]
    per_genre = {g: {"precision": 0.8, "recall": (row[i] / sum(row)) if sum(row) else 0.0,
                     "f1": 0.8, "support": sum(row)}
                 for i, (g, row) in enumerate(zip(GENRES, confusion, strict=True))}
    tracks = [{"track_id": f"{g}.{i:05d}", "true": g, "predicted": g, "confidence": 0.9}
              for g, row in zip(GENRES, confusion, strict=True) for i in range(sum(row))]
    return {"metadata": {"genres": GENRES, "display_name": "x"},
            "metrics": {"track": {"n": n, "accuracy": accuracy, "accuracy_ci": [accuracy - 0.1,
                                                                                 accuracy + 0.1],
                                  "macro_f1": accuracy - 0.05, "per_genre": per_genre,
                                  "confusion": confusion},
                        "test_tracks": tracks},
            "info": {"dataset": {"name": "GTZAN audio"}, "split": {"name": split}}}


def _scored() -> dict:
    """mel-CNN and YAMNet on the same 10 songs; the MFCC-MLP (more accurate) on other ones."""
    return {"cnn": _entry(0.7, "artist split", 10), "yamnet": _entry(0.6, "artist split", 10),
            "mlp": _entry(0.9, "random split", 8, blues=0)}


def _case() -> BusinessCase:
    return BusinessCase(songs_per_year=50_000, human_seconds_per_song=60, human_cost_per_hour=40,
                        machine_songs_per_hour=2000, machine_cost_per_hour=1.5, review_share=0.25,
                        currency="GBP")


def test_exported_report_charts_keep_room_for_their_axis_labels():
    fig = figures.confusion([[3, 1], [0, 4]], ["rock", "pop"], normalise=True, title="t")
    tight = fig.layout.margin.l
    printed = _for_print(fig, 600)
    assert printed.layout.margin.l == 90 and printed.layout.margin.b == 90  # the dashboard's 10 px
    assert printed.layout.width == 680  # an A4 page's width between 14-mm margins: prints as shown
    assert fig.layout.margin.l == tight  # the dashboard's own figure is left as it was


def test_along_the_song_lists_genres_top_down_as_the_song_card_does():
    proba = np.eye(3)[[0, 2]]
    fig = figures.timeline(proba, np.array([[0.0, 3.0], [3.0, 6.0]]), ["blues", "jazz", "rock"],
                           title="t")
    assert list(fig.data[0].y) == ["blues", "jazz", "rock"]
    assert fig.layout.yaxis.autorange == "reversed"  # the first genre at the top
    assert list(fig.layout.xaxis.range) == [0.0, 6.0]


def test_report_html_is_one_file_with_date_models_business_case_and_caveat():
    report = build_report("my set", _scored(), case=_case(), now=WHEN)
    page = report_html(report)
    assert "<script src" not in page and "<link" not in page  # self-contained, nothing fetched
    assert page.count("Plotly.newPlot") == 3
    assert "5 November 2026, 14:03" in page
    # the best model only among models tested alike, every model's split and count
    assert report.headline()["Best model"] == "mel-CNN"
    for row in ("<td>mel-CNN</td><td>GTZAN audio</td><td>artist split</td><td class=num>10</td>",
                "<td>MFCC-MLP</td><td>GTZAN audio</td><td>random split</td><td class=num>8</td>"):
        assert row in page
    assert "Models were tested on different songs: MFCC-MLP on other songs than mel-CNN" in page
    assert "no: other test songs" in page
    # every business-case input with its unit and currency, next to the result
    for value in ("50,000 songs", "60 s", "40.00 GBP/h", "2,000 songs/h", "1.50 GBP/h", "25%"):
        assert f"<td class=num>{value}</td>" in page
    result = _case().results()
    assert f"{result['money_saved']:,.0f} GBP" in page and "amounts in GBP" in page
    assert LEAKAGE_NOTE[:60] in page and "artist-disjoint" in page
    # genre names on the charts; a genre with no test songs of the best model is not 0%
    assert '"blues (2)"' in page and '"pop (4)"' in page and "cost per year (GBP)" in page


def test_business_case_inputs_name_a_measured_source():
    measured = {"run_id": 3, "database": "library.duckdb", "songs": 120, "workers": 2,
                "engine": "local"}
    inputs = dict((name, (value, source)) for name, value, source in _case().inputs(measured))
    assert inputs["Machine songs per hour"] == ("2,000 songs/h", "measured: run 3 of library.duckdb,"
                                                " 120 songs, 2 local worker(s)")
    assert inputs["Human cost per hour"] == ("40.00 GBP/h", "typed in")
    with pytest.raises(ValueError, match="no evaluated models"):
        build_report("empty", {})


def test_business_case_says_how_many_songs_stay_wrong_after_review():
    from dataclasses import replace

    from dashboard.report import errors_after_review, review_default

    # 10 test songs; the 3 wrong ones are among the 4 least confident
    rows = [{"true": "pop", "predicted": "pop" if i not in (0, 1, 3) else "rock",
             "confidence": 0.3 + 0.05 * i} for i in range(10)]
    entry = {"metrics": {"track": {"n": 10, "accuracy": 0.7}, "test_tracks": rows}}
    assert errors_after_review(entry, 0.0) == (0.3, 10)  # nobody checks: every mistake stays
    assert errors_after_review(entry, 0.2) == (0.1, 10)  # the 2 least sure songs, both wrong
    assert errors_after_review(entry, 0.4) == (0.0, 10)
    assert review_default(entry) == pytest.approx(0.3)  # a model: its error rate
    # an ensemble keeps only its uncertain share and its accuracy on the other songs
    ensemble = {"metrics": {"track": {"n": 100}, "uncertain_share": 0.2,
                            "accuracy_when_confident": 0.9}}
    assert review_default(ensemble) == 0.2
    assert errors_after_review(ensemble, 0.2) == (pytest.approx(0.08), 100)
    assert errors_after_review(ensemble, 0.5) is None  # not measured for other shares
    assert errors_after_review(ensemble, 0.204) is not None  # the page's whole percent: 20%
    case = replace(_case(), errors_left=(0.08, 100))
    outcome = dict(case.outcome())
    assert outcome["Songs still wrongly tagged after review, per year"] == (
        "4,000 songs (8% of 100 test songs)")
    assert list(outcome)[-1] == "Money saved per year"  # the saving stays last
    assert "not measured" in dict(_case().outcome())[
        "Songs still wrongly tagged after review, per year"]
    assert "4,000 songs (8% of 100 test songs)" in report_html(
        build_report("s", _scored(), case=case, now=WHEN))


def test_findings_say_when_the_best_models_lead_may_be_chance():
    from dashboard.findings import findings

    scored = _scored()  # mel-CNN 70% (interval 60-80%), YAMNet 60%: inside the interval
    text = " ".join(findings(scored, "cnn", ["cnn", "yamnet"], []))
    assert "The runner-up, YAMNet (60%), lies inside that 95% interval: a lead of 1 song" in text
    scored["yamnet"]["metrics"]["track"]["accuracy"] = 0.5  # below it: a lead worth stating
    assert "runner-up" not in " ".join(findings(scored, "cnn", ["cnn", "yamnet"], []))


def test_report_pdf_has_every_part_and_no_label_outside_its_page():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from dashboard.report_pdf import report_pages, report_pdf

    report = build_report("my set", _scored(), case=_case(), now=WHEN)
    pdf = report_pdf(report)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") == 3
    pages = report_pages(report)
    texts = []
    for page in pages:
        FigureCanvasAgg(page).draw()
        renderer = page.canvas.get_renderer()
        box = page.bbox
        artists = list(page.texts)
        for ax in page.axes:
            artists += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts,
                        *ax.get_xticklabels(), *ax.get_yticklabels()]
        for artist in artists:
            if artist.get_text() and artist.get_visible():
                extent = artist.get_window_extent(renderer)
                assert box.x0 <= extent.x0 and extent.x1 <= box.x1 + 1, artist.get_text()
                assert box.y0 <= extent.y0 and extent.y1 <= box.y1 + 1, artist.get_text()
                texts.append(artist.get_text())
    text = " ".join(texts).replace("\n", " ")
    for part in ("5 November 2026, 14:03", "artist split", "random split", "40.00 GBP/h",
                 "2,000 songs/h", "Money saved per year", "cost per year (GBP)", "predicted genre",
                 "true genre (test songs)", "blues (2)", "accuracy (recall)", "page 3 of 3",
                 "artist-disjoint", "Models were tested on different songs"):
        assert part in text, part
    assert {"blues", "pop", "rock"} <= set(texts)  # genre names on the axes


def test_song_card_is_a_png_or_a_one_page_pdf():
    import numpy as np
    import pytest

    from core.ensemble import Ensemble
    from core.models.base import SegmentPrediction
    from core.predict import Prediction
    from dashboard.classify import Analysis
    from dashboard.song_card import song_card

    genres = ["rock", "pop"]
    segments = np.array([[0.7, 0.3], [0.4, 0.6]])
    answer = SegmentPrediction(genres, segments.mean(0), segments, np.array([[0, 3], [3, 6]]), 0.1)
    ensemble = Ensemble(["cnn"], genres, [1.0])
    combined, method = ensemble.combine({"cnn": answer.proba})
    prediction = Prediction(6.0, {"cnn": answer}, {}, genres, combined, method)
    analysis = Analysis("k", "song.wav", b"", np.zeros(10), 22050, np.zeros((4, 4)), 512,
                        prediction)
    png = song_card(analysis, model_set="set")
    pdf = song_card(analysis, model_set="set", fmt="pdf")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") <= 1
    with pytest.raises(ValueError, match="png"):
        song_card(analysis, model_set="set", fmt="svg")
    # A file that ended early says so on its card
    from dataclasses import replace

    noted = replace(analysis, prediction=replace(prediction, notes=(
        "song.wav: only 6.0 s of the 12.0 s its header declares could be decoded.",)))
    assert song_card(analysis, model_set="set") == png  # the same card draws the same bytes
    assert song_card(noted, model_set="set") != png
    # An uncertain answer prints in full: "uncertain", then both closest genres (it was cut
    # to "uncertain: closest to rock / [...]" on the card people hand on)
    from dashboard.song_card import answer_lines

    unsure = replace(prediction, genres=["rock", "country"], threshold=0.9,
                     outside_genre=("electronic", 0.4))
    who, genre, note, _ = answer_lines(unsure)[0]
    assert (who, genre) == ("Ensemble", "uncertain")
    assert note.startswith("closest to rock / country (sounds like electronic") and "%" in note
    assert answer_lines(prediction)[0][1] == prediction.ensemble_genre  # sure: the genre itself
    assert song_card(replace(analysis, prediction=unsure), model_set="set").startswith(b"\x89PNG")


def test_spectrogram_draws_its_floor_black_and_its_axis_in_hz():
    import numpy as np

    from dashboard.figures import spectrogram

    S = np.linspace(-80, 0, 96 * 50).reshape(96, 50)
    fig = spectrogram(S, sr=22050, hop_length=512)
    heatmap = fig.data[0]
    # Plotly.js draws a "#000004" stop salmon-pink; rgb() stops are drawn as given.
    assert heatmap.colorscale[0][1] == "rgb(0,0,4)"
    assert all(str(c).startswith("rgb(") for _, c in heatmap.colorscale)
    assert heatmap.zmin == -80 and fig.layout.yaxis.title.text == "frequency (Hz)"
    assert 30 < min(heatmap.y) < 40 and 10_000 < max(heatmap.y) < 11025  # band centres in Hz

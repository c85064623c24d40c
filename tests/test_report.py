"""The exported report: one self-contained page whose charts print readably."""

from __future__ import annotations

from dashboard import figures
from dashboard.report import report_html


def test_exported_report_charts_keep_room_for_their_axis_labels():
    fig = figures.confusion([[3, 1], [0, 4]], ["rock", "pop"], normalise=True, title="t")
    tight = fig.layout.margin.l
    page = report_html("r", ["f"], [fig], {"k": "v"}).replace(" ", "")
    assert '"l":90' in page and '"b":90' in page  # the dashboard's 10-px margins clipped them
    assert '"rock"' in page and '"pop"' in page
    assert fig.layout.margin.l == tight  # the dashboard's own figure is left as it was

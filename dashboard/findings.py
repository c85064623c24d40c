"""The Report's headline and findings in words, every share with its count (no Streamlit)."""

from __future__ import annotations

from typing import Any

from dashboard.palette import display_name
from dashboard.tables import tested_alike, top_confusions

LEAKAGE_CAVEAT = ("Numbers come from songs (and artists) kept out of training; results above 90% "
                  "on GTZAN usually mean the same song leaked into training and test.")


def of(share: float, total: int) -> str:
    """``"50% (2 of 4)"``: a share of ``total`` items with its count."""
    return f"{share:.0%} ({round(share * total)} of {total})"


def choose_best(scored: dict[str, dict[str, Any]]) -> tuple[str, list[str], list[str]]:
    """The most accurate model among those tested on the same tracks as most models.

    Returns
    -------
    best : str
        Its name.
    alike : list of str
        The models it was compared with (tested on the same tracks, itself included).
    left_out : list of str
        Models tested on other tracks, not compared.
    """
    groups = tested_alike(scored)
    alike = groups[0]
    best = max(alike, key=lambda k: scored[k]["metrics"]["track"]["accuracy"])
    return best, alike, [n for group in groups[1:] for n in group]


def findings(scored: dict[str, dict[str, Any]], best: str, alike: list[str],
             left_out: list[str]) -> list[str]:
    """Findings about ``best`` in plain words; every percentage carries its count."""
    entry = scored[best]
    track = entry["metrics"]["track"]
    genres = entry["metadata"]["genres"]
    shown = display_name(best)
    n = int(track["n"])
    support = {g: int(v["support"]) for g, v in track["per_genre"].items()}
    recall = {g: v["recall"] for g, v in track["per_genre"].items() if v["support"] > 0}
    ci = track.get("accuracy_ci")
    interval = f"95% interval {ci[0]:.0%}-{ci[1]:.0%}; " if ci else ""
    lines = [f"{shown} names the right genre for {of(track['accuracy'], n)} of the songs it never "
             f"saw in training ({interval}guessing: {1 / len(genres):.0%})."]
    if len(alike) > 1:
        others = [display_name(m) for m in alike if m != best]
        lines.append(f"It is the most accurate of {len(alike)} models tested on the same {n} songs "
                     f"(the others: {', '.join(others)}).")
        second = max((m for m in alike if m != best),
                     key=lambda m: scored[m]["metrics"]["track"]["accuracy"])
        runner_up = scored[second]["metrics"]["track"]["accuracy"]
        if ci and runner_up >= ci[0]:  # inside the best model's interval: the lead may be chance
            gap = round((track["accuracy"] - runner_up) * n)
            lines.append(f"The runner-up, {display_name(second)} ({runner_up:.0%}), lies inside "
                         f"that 95% interval: a lead of {gap} song{'s' if gap != 1 else ''} in "
                         f"{n} may be chance, so the two are not shown to differ.")
    if left_out:
        lines.append(f"{', '.join(display_name(m) for m in left_out)} were tested on other songs, "
                     "so they are not compared with it here.")
    if recall:
        easiest, hardest = max(recall, key=recall.get), min(recall, key=recall.get)
        def right(genre: str) -> str:
            return (f"{round(recall[genre] * support[genre])} of {support[genre]} correct, "
                    f"{recall[genre]:.0%}")

        lines.append(f"Easiest genre: {easiest} ({right(easiest)}); hardest: {hardest} "
                     f"({right(hardest)}).")
    missing = [g for g in genres if support.get(g, 0) == 0]
    if missing:
        lines.append(f"No test songs for {', '.join(missing)}: "
                     f"{'its' if len(missing) == 1 else 'their'} accuracy is not measured.")
    lines += [f"{count} of {total} {a} songs ({share:.0%}) are mistaken for {b}."
              for a, b, share, count, total in top_confusions(track["confusion"], genres)]
    lines.append(LEAKAGE_CAVEAT)
    return lines

"""One name and one colour per model, the same on every page, chart and export.

Models are known by their folder names (``mlp``, ``cnn``, ``yamnet``, ``ensemble``); a set
compared with another is prefixed (``run-1/cnn``). :func:`display_name` and :func:`colour`
read the family from the last path part, so ``run-1/cnn`` is "mel-CNN (run-1)" in the same
green as ``cnn``. A model's zero-shot answer as an ensemble member (``yamnet:zero-shot``) is
"YAMNet zero-shot", in a paler shade of its model's colour.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.ensemble import ZERO_SHOT_MEMBER

#: Display names of the model families and the ensemble.
DISPLAY_NAMES = {"mlp": "MFCC-MLP", "cnn": "mel-CNN", "yamnet": "YAMNet", "ensemble": "Ensemble",
                 "logreg": "Logistic regression", "boosting": "Boosted trees", "lstm": "MFCC-LSTM",
                 "mfcc-cnn": "MFCC-CNN", "vgg": "VGG transfer"}
#: Colour of each family (colour-blind-safe, distinct in light and dark themes).
COLOURS = {"mlp": "#6C5CE7", "cnn": "#00A383", "yamnet": "#E17055", "ensemble": "#2D3436",
           "logreg": "#8E7CC3", "boosting": "#B8860B", "lstm": "#1B9AAA", "mfcc-cnn": "#74B816",
           "vgg": "#C2185B"}
#: Colours for models outside the families above, in order.
EXTRA_COLOURS = ("#0984E3", "#D63031", "#FDCB6E", "#E84393", "#636E72", "#55EFC4")


def _family(name: str) -> tuple[str, str]:
    """``"run-1/cnn"`` -> ``("cnn", "run-1")``; names may also be display names."""
    prefix, _, last = name.rpartition("/")
    key = last.lower()
    for family, shown in DISPLAY_NAMES.items():
        if key == shown.lower():
            key = family
    return key, prefix


def display_name(name: str) -> str:
    """The name a stakeholder reads: ``"cnn"`` -> ``"mel-CNN"``, ``"a/mlp"`` -> ``"MFCC-MLP (a)"``,
    ``"yamnet:zero-shot"`` -> ``"YAMNet zero-shot"``."""
    if name.endswith(ZERO_SHOT_MEMBER):
        shown = display_name(name.removesuffix(ZERO_SHOT_MEMBER))
        base, paren, prefix = shown.partition(" (")
        return f"{base} zero-shot" + (f" ({prefix}" if paren else "")
    family, prefix = _family(name)
    shown = DISPLAY_NAMES.get(family, name.rpartition("/")[2])
    return f"{shown} ({prefix})" if prefix else shown


def colour(name: str, index: int = 0) -> str:
    """The colour of a model (folder or display name); others get :data:`EXTRA_COLOURS` in turn."""
    if name.endswith(ZERO_SHOT_MEMBER):
        own = colour(name.removesuffix(ZERO_SHOT_MEMBER), index)
        return "#" + "".join(f"{(int(own[i:i + 2], 16) + 255) // 2:02X}" for i in (1, 3, 5))
    family, _ = _family(name)
    return COLOURS.get(family, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


def colour_map(names: Iterable[str]) -> dict[str, str]:
    """Colour of each of ``names`` (for plotly's ``color_discrete_map``)."""
    return {name: colour(name, i) for i, name in enumerate(names)}


def readable(text: str, names: Iterable[str]) -> str:
    """``text`` with model folder names (``"cnn (+0.64)"``, ``"cnn: hiphop"``) as display names,
    and their zero-shot members (``"yamnet:zero-shot (+0.30)"``) too."""
    import re

    names = set(names)
    names |= {n + ZERO_SHOT_MEMBER for n in names if not n.endswith(ZERO_SHOT_MEMBER)}
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}(?= \(|:)", display_name(name), text)
    return text

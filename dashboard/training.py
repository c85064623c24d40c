"""Training in a background thread, so a session that trains never blocks the others."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cache import FeatureCache
from core.datasets import load_dataset
from core.errors import GenreLabError
from core.splits import make_split, split_notes
from core.train import (
    check_set_folder,
    save_set_ensemble,
    skipped_note,
    train_family,
    training_recordings,
)


class TrainingCancelled(GenreLabError):
    """The user cancelled a training run."""


def weights_error(path: str) -> str | None:
    """Why a VGG transfer weights file cannot be used (None: it can; its content is checked
    when training starts)."""
    from core.encoders.vgg import check_weights_file

    try:
        check_weights_file(path)
    except GenreLabError as exc:
        return str(exc)
    return None


@dataclass
class TrainingJob:
    """One training run of several families; its fields are read by the page while it runs."""

    data: str
    layout: str
    families: list[str]
    split: str
    out: Path
    epochs: int | None = None
    members: int | None = None
    seed: int = 0
    yamnet_handle: str | None = None
    #: vgg only: a local ImageNet VGG16/ResNet50 weights file (None: the shipped MSD VGG).
    weights: str | None = None
    #: cnn only: fine-tune musicnn's back-end instead of the linear probe.
    fine_tune: bool = False
    #: Also train on every training file re-recorded (core.conditions.FIT_CONDITIONS).
    recordings: bool = False
    progress: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    #: What the dataset, the split and training skipped or could not do (the CLI's warnings).
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    #: When each family started (for the time estimate) and which fit it is in (1, 2 ...).
    family_started: dict[str, float] = field(default_factory=dict)
    phase: dict[str, int] = field(default_factory=dict)
    cancelled: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> TrainingJob:
        self._thread = threading.Thread(target=self._run, name=f"train-{self.out.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop: it ends at the next progress report (the next epoch)."""
        self.cancelled = True

    def estimate(self, family: str) -> float | None:
        """Seconds left for ``family``'s current fit, from its pace so far (None: too early)."""
        fraction = self.progress.get(family, 0.0)
        started = self.family_started.get(family)
        if started is None or not 0.05 <= fraction < 1.0 or family in self.results:
            return None
        return (time.time() - started) * (1 - fraction) / fraction

    def _report(self, family: str) -> Any:
        def report(fraction: float, message: str) -> None:
            if self.cancelled:
                raise TrainingCancelled("cancelled by the user")
            previous = self.progress.get(family, 0.0)
            if fraction < previous and "epoch" in message:  # a new fit starts over at epoch 1
                self.phase[family] = self.phase.get(family, 1) + 1
                self.family_started[family] = time.time()
            if self.phase.get(family, 1) > 1 and "epoch" in message:
                message += (" (final fit on training + validation tracks, with the settings "
                            "chosen on validation)")
            elif fraction == 0.0 and "computing inputs" in message:
                message += " (features are cached: the next run starts faster)"
            self.progress[family] = fraction
            self.messages[family] = message
        return report

    def _run(self) -> None:
        try:
            dataset = load_dataset(self.data, self.layout)
            check_set_folder(self.out, self.families, dataset.genres)
            split = make_split(dataset, self.split, seed=self.seed)
            self.notes += [*dataset.warnings, *split_notes(dataset, split)]
            if self.recordings:
                for family in self.families:
                    self.messages[family] = (f"re-recording {len(split.train)} training files "
                                             "(mp3, EQ, loud master) ...")
            with training_recordings(dataset, split, enabled=self.recordings) as copies:
                self._train(dataset, split, copies)
        except GenreLabError as exc:
            self.error = str(exc)
        except Exception as exc:  # keep the thread's failure visible on the page
            traceback.print_exc()
            self.error = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            self.finished = time.time()

    def _train(self, dataset: Any, split: Any, copies: dict[str, Any] | None) -> None:
        """Each family in turn (``copies``: re-recordings its training side also learns from),
        then the set's ensemble."""
        trained = {}
        for family in self.families:
            if self.cancelled:
                self.results[family] = "failed: cancelled before it started"
                continue
            self.progress[family] = 0.0
            self.family_started[family] = time.time()
            try:
                model = train_family(family, dataset, split, self.out / family,
                                     seed=self.seed, epochs=self.epochs,
                                     members=self.members,
                                     yamnet_handle=self.yamnet_handle,
                                     weights=self.weights if family == "vgg" else None,
                                     fine_tune=self.fine_tune and family == "cnn",
                                     copies=copies, cache=FeatureCache(),
                                     progress=self._report(family))
                trained[family] = model
                if note := skipped_note(model):
                    self.notes.append(f"{model.display_name}: {note}")
                self.results[family] = "trained" + _test_result(model.metrics_.get("track", {}))
            except GenreLabError as exc:
                self.results[family] = f"failed: {exc}"
            self.progress[family] = 1.0
        if len(trained) > 1 and not self.cancelled:
            self.results["ensemble"] = save_set_ensemble(trained, self.out, dataset=dataset.name,
                                                         split=split.name)


def _test_result(track: dict[str, Any]) -> str:
    """``", test accuracy 80.0% on 30 test tracks"``, flagging too few tracks to mean much."""
    acc, n = track.get("accuracy"), track.get("n")
    if acc is None:
        return ""
    if n is None:
        return f", test accuracy {acc:.1%}"
    return (f", test accuracy {acc:.1%} on {n} test track{'s' if n != 1 else ''}"
            + (" (too few to mean much)" if n < 30 else ""))

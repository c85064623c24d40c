"""Why a model chose a genre: explanations of one song's prediction, for people.

- **MFCC-MLP** (:func:`explain_mlp`): occlusion per feature group. The 57 summary features fall
  into seven groups a listener knows (brightness, loudness, noisiness, percussion, harmony,
  tempo, tone colour); each group in turn is set to the training songs' average (the network's
  own ``Normalization`` mean) and the drop of the chosen genre's probability is that group's
  push towards it. The group's value against the training average gives the word ("bright",
  "fast"...).
- **mel-CNN** (:func:`explain_cnn`): occlusion over the log-mel spectrogram. The model's most
  confident segments are cut into coarse time x frequency blocks; each block is silenced in
  turn (all blocks of all segments in one batch) and the drop of the chosen genre's
  probability says which regions drove the answer.
- **Pretrained encoders**: the tags they heard (``SegmentPrediction.extras["heard"]``).
- **Ensemble** (:func:`explain_ensemble`): the pool ``softmax(sum_m w_m log p_m)`` prefers the
  chosen genre over the runner-up by ``sum_m w_m (log p_m(chosen) - log p_m(runner-up))``; each
  term is one model's contribution, so a genre no single model chose is explained.

Everything here is plain NumPy on a model's public API; nothing imports Streamlit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.ensemble import Ensemble
from core.errors import GenreLabError, ParameterError
from core.predict import member_probabilities

__all__ = ["FEATURE_GROUPS", "Explanation", "explain_cnn", "explain_ensemble", "explain_mlp",
           "explain_prediction"]

#: Feature groups of the 57 summary columns: (name, column prefixes, word when high, when low).
FEATURE_GROUPS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("brightness", ("spectral_centroid", "spectral_bandwidth", "rolloff"), "bright", "dark, mellow"),
    ("loudness", ("rms",), "loud, dense", "quiet, sparse"),
    ("noisiness", ("zero_crossing_rate",), "noisy (cymbals, distortion)", "smooth"),
    ("percussion", ("perceptr",), "percussive, punchy", "soft attacks"),
    ("harmony", ("harmony", "chroma_stft"), "strongly tonal", "little sustained harmony"),
    ("tempo", ("tempo",), "fast", "slow"),
    ("tone colour", ("mfcc",), "its tone colour (timbre)", "its tone colour (timbre)"),
)


@dataclass
class Explanation:
    """One model's (or the ensemble's) explanation of its answer for one song.

    Attributes
    ----------
    model : str
        The model's name in its set (``mlp``, ``cnn``, ``yamnet``, ``ensemble``).
    genre : str
        The genre explained.
    summary : str
        One sentence for a stakeholder.
    kind : str
        ``features``, ``regions``, ``tags`` or ``contributions``.
    items : list of dict
        The evidence, strongest first (keys depend on ``kind``).
    seconds : float
        Wall time spent computing it.
    """

    model: str
    genre: str
    summary: str
    kind: str
    items: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``predict --explain``)."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


def _columns(prefixes: tuple[str, ...]) -> list[int]:
    from core.features import SUMMARY_COLUMNS

    return [i for i, c in enumerate(SUMMARY_COLUMNS) if c.startswith(prefixes)]


def _top_segments(segment_proba: np.ndarray, genre: int, k: int) -> np.ndarray:
    """Indices of the ``k`` segments most confident in ``genre`` (in time order)."""
    return np.sort(np.argsort(segment_proba[:, genre])[::-1][:k])


def _normalization(network: Any) -> Any:
    """The first ``Normalization`` layer of a Keras model, looking inside nested members."""
    import keras

    for layer in network.layers:
        if isinstance(layer, keras.layers.Normalization):
            return layer
        if isinstance(layer, keras.Model):
            found = _normalization(layer)
            if found is not None:
                return found
    return None


def explain_mlp(model: Any, y: np.ndarray, sr: int, *, genre: str | None = None,
                segment_proba: np.ndarray | None = None,
                segment_times: np.ndarray | None = None, max_segments: int = 2,
                name: str = "mlp") -> Explanation:
    """Which feature groups pushed the MFCC-MLP towards ``genre`` for this song.

    Parameters
    ----------
    model : core.models.MfccMlp
        A fitted MFCC-MLP.
    y : np.ndarray [shape=(n_samples,)]
        Mono waveform.
    sr : int
        Its sample rate in Hz.
    genre : str, optional
        The genre to explain (default: the model's answer for the segments used).
    segment_proba : np.ndarray [shape=(n_segments, n_genres)], optional
    segment_times : np.ndarray [shape=(n_segments, 2)], optional
        The model's segment probabilities and their start and end in seconds (from its
        prediction), so that only its ``max_segments`` most confident segments are featurised
        again (the time budget).
    max_segments : int
    name : str

    Raises
    ------
    ParameterError
        ``genre`` is not one of the model's.
    """
    start = time.perf_counter()
    genres = list(model.genres_ or [])
    if segment_proba is not None and segment_times is not None and len(segment_proba) > 1:
        # Featurise only the most confident windows again (summary features cost ~0.4 s per
        # 30 s on one core), each on its own: one window is one row.
        g0 = genres.index(genre) if genre in genres else int(np.argmax(segment_proba.mean(0)))
        rows = []
        for s in _top_segments(segment_proba, g0, max_segments):
            t0, t1 = segment_times[s]
            rows.append(model.featurize_waveform(y[int(t0 * sr):int(np.ceil(t1 * sr))], sr)[0][:1])
        X = np.concatenate(rows)
    else:
        X = model.featurize_waveform(y, sr)[0]
    network = model.model_
    inputs = np.asarray(model.network_inputs(X), dtype=np.float32)
    norm = _normalization(network)
    mean = np.asarray(norm.mean, dtype=np.float32).reshape(-1)
    std = np.sqrt(np.asarray(norm.variance, dtype=np.float32).reshape(-1)) + 1e-6
    groups = [(g, _columns(prefixes), high, low) for g, prefixes, high, low in FEATURE_GROUPS]
    batch = [inputs]
    for _, cols, _, _ in groups:
        masked = inputs.copy()
        masked[:, cols] = mean[cols]
        batch.append(masked)
    with model._lock:  # the model's own lock: predictions may run in other sessions
        out = np.asarray(network(np.concatenate(batch), training=False), dtype=np.float64)
    out = out.reshape(len(batch), len(inputs), -1).mean(axis=1)
    base = out[0]
    g = genres.index(genre) if genre in genres else int(np.argmax(base))
    items = []
    for (group, cols, high, low), proba in zip(groups, out[1:], strict=True):
        z = float(((inputs[:, cols] - mean[cols]) / std[cols]).mean())
        word = high if z > 0.5 or high == low else low if z < -0.5 else f"average {group}"
        items.append({"group": group, "word": word, "push": float(base[g] - proba[g]),
                      "z": round(z, 2), "features": len(cols)})
    items.sort(key=lambda item: item["push"], reverse=True)
    def sounds(item: dict[str, Any]) -> bool:
        return not item["word"].startswith(("average", "its "))

    towards = [i for i in items if i["push"] > 0.01][:3]
    against = [i["word"] for i in items if i["push"] < -0.01 and sounds(i)]
    reasons = ["for " + i["word"] for i in towards if not sounds(i)]
    described = [i["word"] for i in towards if sounds(i)]
    if described:
        reasons.append("because it sounds " + " and ".join(described))
    summary = (f"Heard as {genres[g]} mainly {' and '.join(reasons)}" if reasons
               else f"No single kind of feature stands out for {genres[g]}")
    if against:
        summary += f"; sounding {against[-1]} pointed away from it"
    return Explanation(name, genres[g], summary + ".", "features", items,
                       time.perf_counter() - start)


def _occlusion_blocks(n_frames: int, n_bands: int, time_blocks: int, band_blocks: int
                      ) -> list[tuple[int, int, int, int]]:
    t_edges = np.linspace(0, n_frames, time_blocks + 1).astype(int)
    f_edges = np.linspace(0, n_bands, band_blocks + 1).astype(int)
    return [(t_edges[i], t_edges[i + 1], f_edges[j], f_edges[j + 1])
            for i in range(time_blocks) for j in range(band_blocks)]


def explain_cnn(model: Any, y: np.ndarray, sr: int, *, genre: str | None = None,
                segment_proba: np.ndarray | None = None, max_segments: int = 2,
                time_blocks: int = 6, band_blocks: int = 4, name: str = "cnn") -> Explanation:
    """Which time-frequency regions of the mel spectrogram drove the mel-CNN towards ``genre``.

    The pretrained variant occludes musicnn's own 96-band log-mel patches (silence: 0 after
    its ``log10(10000 x + 1)``); the from-scratch variant occludes its 128-band dB segments
    (set to their floor). Only the ``max_segments`` segments most confident in the genre are
    occluded, each in ``time_blocks`` x ``band_blocks`` blocks, all in one batch.

    Returns
    -------
    Explanation
        ``kind="regions"``; each item has ``start_s``, ``end_s``, ``low_hz``, ``high_hz`` and
        ``drop`` (how much the genre's probability falls with that region silenced).
    """
    import librosa

    start = time.perf_counter()
    genres = list(model.genres_ or [])
    if model.pretrained:
        from core.audio import normalize_peak
        from core.encoders.musicnn import (
            HOP,
            MUSICNN_SR,
            N_MELS,
            PATCH_FRAMES,
            musicnn_logmel,
            musicnn_patches,
            patch_starts,
        )
        from core.resample import to_rate

        y16 = to_rate(y, sr, MUSICNN_SR)
        if model.peak_normalize:
            y16 = normalize_peak(y16[None])[0]
        mel = musicnn_logmel(y16)
        patches = musicnn_patches(mel)  # (n, 187, 96): time, band
        starts = patch_starts(mel.shape[0]) * HOP / MUSICNN_SR
        frame_s, n_frames, n_bands = HOP / MUSICNN_SR, PATCH_FRAMES, N_MELS
        freqs = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=MUSICNN_SR / 2)
        floor = 0.0

        def predict(batch: np.ndarray) -> np.ndarray:
            out = model.backend.predict_patches(batch)
            return model.predict_rows(model.rows_from_outputs(out))
    else:
        from core.config import FEATURE_SR, HOP_LENGTH
        from core.resample import to_rate

        X, times = model.featurize_waveform(y, sr)  # (n, bands, frames, 1)
        patches = np.transpose(X[..., 0], (0, 2, 1))
        starts = times[:, 0]
        frame_s = HOP_LENGTH / FEATURE_SR
        n_frames, n_bands = patches.shape[1], patches.shape[2]
        freqs = librosa.mel_frequencies(n_mels=n_bands + 2, fmax=FEATURE_SR / 2)
        floor = float(patches.min())

        def predict(batch: np.ndarray) -> np.ndarray:
            return model.predict_rows(np.transpose(batch, (0, 2, 1))[..., None])
    if segment_proba is None or len(segment_proba) != len(patches):
        segment_proba = predict(patches)
    g = genres.index(genre) if genre in genres else int(np.argmax(segment_proba.mean(axis=0)))
    chosen = _top_segments(segment_proba, g, max_segments)
    blocks = _occlusion_blocks(n_frames, n_bands, time_blocks, band_blocks)
    batch = []
    for s in chosen:
        batch.append(patches[s])
        for t0, t1, f0, f1 in blocks:
            masked = patches[s].copy()
            masked[t0:t1, f0:f1] = floor
            batch.append(masked)
    proba = predict(np.stack(batch).astype(np.float32))[:, g].reshape(len(chosen), -1)
    items = []
    duration = len(y) / sr  # a clip shorter than a patch is padded: no region past its end
    for row, s in zip(proba, chosen, strict=True):
        for (t0, t1, f0, f1), p in zip(blocks, row[1:], strict=True):
            if starts[s] + t0 * frame_s >= duration:
                continue
            items.append({"segment": int(s), "start_s": float(starts[s] + t0 * frame_s),
                          "end_s": float(min(starts[s] + t1 * frame_s, duration)),
                          "low_hz": float(freqs[f0]), "high_hz": float(freqs[f1 + 1]),
                          "drop": float(row[0] - p)})
    items.sort(key=lambda item: item["drop"], reverse=True)
    summary = f"No region of the spectrogram stands out for {genres[g]}."
    top = [i for i in items if i["drop"] > 0.01][:3]
    if top:
        def band(i: dict[str, Any]) -> str:
            mid = (i["low_hz"] * i["high_hz"]) ** 0.5
            return ("the bass" if mid < 250 else "the low mids" if mid < 1000 else
                    "the upper mids" if mid < 4000 else "the highs")

        where = sorted({band(i) for i in top})
        spans = list(dict.fromkeys(f"{i['start_s']:.1f}-{i['end_s']:.1f} s" for i in top))
        summary = (f"Heard as {genres[g]} mostly from {' and '.join(where)} around "
                   + " and ".join(spans[:2])
                   + f" (silencing that region lowers its {genres[g]} probability by up to "
                   f"{top[0]['drop']:.0%}).")
    return Explanation(name, genres[g], summary, "regions", items, time.perf_counter() - start)


def explain_tags(name: str, prediction: Any) -> Explanation | None:
    """What a pretrained encoder heard (its top tags), or None when it reports none."""
    heard = prediction.extras.get("heard") or []
    if not heard:
        return None
    genre = prediction.genre
    listed = ", ".join(f"{tag} {score:.2f}" for tag, score in heard[:4])
    return Explanation(name, genre, f"Heard: {listed}.", "tags",
                       [{"tag": tag, "score": float(score)} for tag, score in heard])


def explain_ensemble(prediction: Any, ensemble: Ensemble | None) -> Explanation | None:
    """How much each model moved the ensemble towards its genre rather than the runner-up.

    For the pool ``softmax(sum_m w_m log p_m)``, the log-odds of the chosen genre ``a`` over the
    runner-up ``b`` is ``sum_m w_m (log p_m(a) - log p_m(b))``: each term is one model's
    contribution (exactly, for a stacked ensemble; with the geometric mean ``w_m = 1/n`` on
    the calibrated probabilities).
    """
    if prediction.ensemble is None or len(prediction.genres) < 2:
        return None
    genres = list(prediction.genres)
    order = np.argsort(prediction.ensemble)[::-1]
    a, b = int(order[0]), int(order[1])
    if ensemble is not None and prediction.ensemble_method == "stacked":
        probas = member_probabilities(prediction.models, genres, ensemble)  # zero-shot ones too
        weights = dict(zip(ensemble.models, ensemble.weights, strict=True))
    else:
        probas = member_probabilities(prediction.models, genres)
        if ensemble is not None:  # exactly what its fallback combined
            probas = {n: ensemble.calibrate(n, probas[n])
                      for n in ensemble.fallback_members(probas)}
        weights = {n: 1.0 / len(probas) for n in probas}
    names = list(probas)
    items = []
    for n in names:
        logs = np.log(np.clip(probas[n], 1e-7, 1.0))
        w = float(weights.get(n, 0.0))
        items.append({"model": n, "weight": round(w, 4), "chose": genres[int(np.argmax(probas[n]))],
                      "contribution": float(w * (logs[a] - logs[b])),
                      "p_genre": float(probas[n][a]), "runner_up": genres[b],
                      "p_runner_up": float(probas[n][b])})
    items.sort(key=lambda i: i["contribution"], reverse=True)
    pro = [i for i in items if i["contribution"] > 0]
    chosen_by = [i["model"] for i in items if i["chose"] == genres[a]]
    summary = (f"The ensemble prefers {genres[a]} to {genres[b]} "
               f"(log-odds {sum(i['contribution'] for i in items):+.2f})")
    if pro:
        summary += ", pushed mostly by " + " and ".join(
            f"{i['model']} ({i['contribution']:+.2f})" for i in pro[:2])
    if not chosen_by:
        firsts = ", ".join(f"{i['model']}: {i['chose']}" for i in items)
        summary += (f". No single model chose {genres[a]}: their first choices disagreed "
                    f"({firsts}), and once weighted {genres[a]} is the genre they rate highest "
                    "together")
    return Explanation("ensemble", genres[a], summary + ".", "contributions", items)


def explain_prediction(models: dict[str, Any], prediction: Any, y: np.ndarray, sr: int, *,
                       ensemble: Ensemble | None = None) -> dict[str, list[Explanation]]:
    """Every explanation of one song's prediction, per model (and ``ensemble``).

    A model whose explanation fails is left out with a line saying why (as a ``note``).
    """
    out: dict[str, list[Explanation]] = {}
    for name, p in prediction.models.items():
        model = models.get(name)
        found: list[Explanation] = []
        try:
            if model is not None and model.family == "mlp":
                found.append(explain_mlp(model, y, sr, genre=p.genre,
                                         segment_proba=p.segment_proba,
                                         segment_times=p.segment_times, name=name))
            elif model is not None and model.family == "cnn" and not model.is_zero_shot:
                found.append(explain_cnn(model, y, sr, genre=p.genre,
                                         segment_proba=p.segment_proba, name=name))
        except (GenreLabError, ParameterError, ValueError) as exc:
            found.append(Explanation(name, p.genre, f"No explanation: {exc}", "note"))
        tags = explain_tags(name, p)
        if tags is not None:
            found.append(tags)
        if found:
            out[name] = found
    combined = explain_ensemble(prediction, ensemble)
    if combined is not None:
        out["ensemble"] = [combined]
    return out

"""Convert the pretrained musicnn checkpoints (PyPI ``musicnn`` 0.1.0) into shipped Keras 3 files.

Usage::

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl
    .venv/bin/python tools/convert_musicnn.py --wheel /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl

Writes, for MSD_musicnn, MTT_musicnn and MSD_vgg (``--only vgg-msd`` converts the VGG alone)::

    assets/encoders/musicnn-msd/musicnn_msd.keras           encoder.json   LICENSE
    assets/encoders/musicnn-mtt/musicnn_mtt.keras           encoder.json   LICENSE
    assets/encoders/musicnn-vgg-msd/musicnn_vgg_msd.keras   encoder.json   LICENSE

Why convert once and ship ``.keras`` instead of depending on the package: musicnn 0.1.0 pins
``numpy<1.17`` and ``tensorflow>=1.14`` (and builds its graph with ``tf.compat.v1.layers``), which
cannot be resolved with today's Python 3.11 / NumPy 2 / TensorFlow 2.21 / Keras 3 stack. A
``.keras`` file loads with ``safe_mode=True``, needs no TF1 code at run time, and its sha256 is
recorded so the loader can refuse a modified file. This tool keeps the conversion reproducible:
it reads the checkpoint straight from the wheel (whose sha256 it records), maps every variable by
name with shape checks (:func:`core.encoders.musicnn.load_checkpoint_weights`), and checks that the
saved file reloads to the same outputs. Equality with the original TF1 graph is proven separately
by ``tools/musicnn_reference.py`` (run in a scratch venv) and ``tests/test_musicnn.py`` /
``tests/test_vgg.py``.

The weights are under the package's ISC licence; its text is copied into each folder's ``LICENSE``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.atomic import file_sha256, write_text_atomic  # noqa: E402
from core.encoders.musicnn import (  # noqa: E402
    CHECKPOINT_MAP,
    ENCODERS,
    ENCODERS_DIR,
    HOP,
    MUSICNN_SR,
    N_FFT,
    N_MELS,
    PATCH_FRAMES,
    build_musicnn,
    load_checkpoint_weights,
)
from core.encoders.vgg import VGG_CHECKPOINT_MAP, VGG_ENCODERS, build_musicnn_vgg  # noqa: E402

#: Every convertible network: name -> (folder, Keras file, wheel model, tags, builder, mapping,
#: what it is).
CONVERSIONS: dict[str, tuple[str, str, str, tuple[str, ...], Callable[..., Any],
                             Sequence[tuple[str, str, str]], str]] = {
    **{name: (*spec, build_musicnn, CHECKPOINT_MAP, "audio tagger (musicnn, Pons & Serra 2019)")
       for name, spec in ENCODERS.items()},
    **{name: (*spec, build_musicnn_vgg, VGG_CHECKPOINT_MAP,
              "VGG-style audio tagger (musicnn package's vgg baseline, Pons & Serra 2019)")
       for name, spec in VGG_ENCODERS.items()},
}

PACKAGE = "musicnn"
VERSION = "0.1.0"
CHECKPOINT_FILES = (".index", ".data-00000-of-00001")
FALLBACK_COPYRIGHT = ("Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. "
                      "Code developed by Jordi Pons (www.jordipons.me).")
ISC_BODY = (
    "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee "
    "is hereby granted, provided that the above copyright notice and this permission notice appear in all "
    "copies.\n\n"
    'THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE '
    "INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE "
    "FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM "
    "LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, "
    "ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.\n"
)


def licence_text(wheel: zipfile.ZipFile) -> str:
    """The package's licence file from the wheel's metadata, else the ISC text with its copyright."""
    for member in wheel.namelist():
        base = Path(member).name.upper()
        if ".dist-info/" in member and base.startswith(("LICENSE", "LICENCE", "COPYING")):
            text = wheel.read(member).decode("utf-8").strip()
            if text:
                return text + "\n"
    return f"{FALLBACK_COPYRIGHT}\n\n{ISC_BODY}"


def extract_checkpoint(wheel: zipfile.ZipFile, model_dir: str, dest: Path) -> str:
    """Copy ``musicnn/<model_dir>/{.index,.data-*}`` out of the wheel; return the checkpoint prefix."""
    out = dest / model_dir
    out.mkdir(parents=True, exist_ok=True)
    for suffix in CHECKPOINT_FILES:
        member = f"musicnn/{model_dir}/{suffix}"
        try:
            (out / suffix).write_bytes(wheel.read(member))
        except KeyError as exc:
            raise SystemExit(f"{member} is not in the wheel; is it musicnn {VERSION}?") from exc
    return str(out) + os.sep  # the files are named ".index" etc.: the prefix ends with the separator


def save_keras_atomic(model, target: Path) -> None:
    """``model.save`` to a temporary ``.keras`` beside ``target``, then :func:`os.replace`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def convert(wheel_path: Path, out_dir: Path, names: list[str]) -> list[dict]:
    """Convert the named encoders (keys of :data:`CONVERSIONS`); return their ``encoder.json`` records."""
    import keras

    wheel_sha = file_sha256(wheel_path)
    records = []
    rng = np.random.default_rng(0)
    probe = rng.normal(1.0, 1.0, size=(4, PATCH_FRAMES, N_MELS)).astype(np.float32)
    with zipfile.ZipFile(wheel_path) as wheel, tempfile.TemporaryDirectory() as tmp:
        licence = licence_text(wheel)
        for name in names:
            folder, filename, model_dir, tags, builder, mapping, what = CONVERSIONS[name]
            prefix = extract_checkpoint(wheel, model_dir, Path(tmp))
            model = builder(len(tags), name=f"musicnn_{name.replace('-', '_')}")
            report = load_checkpoint_weights(model, prefix, mapping=mapping)
            target = out_dir / folder / filename
            save_keras_atomic(model, target)

            reloaded = keras.models.load_model(target, compile=False, safe_mode=True)
            a, b = model(probe, training=False), reloaded(probe, training=False)
            for key in a:
                diff = float(np.max(np.abs(np.asarray(a[key]) - np.asarray(b[key]))))
                if diff > 0:
                    raise SystemExit(f"{target}: reloaded output {key!r} differs by {diff}")

            outs = model(probe[:1], training=False)
            record = {
                "name": folder,
                "description": f"{model_dir} {what} ported to Keras 3",
                "source": {
                    "package": PACKAGE,
                    "version": VERSION,
                    "wheel": wheel_path.name,
                    "wheel_sha256": wheel_sha,
                    "checkpoint": f"musicnn/{model_dir}/",
                    "checkpoint_files": [f"musicnn/{model_dir}/{s}" for s in CHECKPOINT_FILES],
                    "variables_used": len(report["used"]),
                    "optimizer_variables_skipped": len(report["skipped"]),
                    "licence": "ISC",
                    "author": "Jordi Pons (Music Technology Group, Universitat Pompeu Fabra)",
                    "url": "https://github.com/jordipons/musicnn",
                },
                "input": {
                    "name": "logmel",
                    "shape": [PATCH_FRAMES, N_MELS],
                    "dtype": "float32",
                    "sample_rate": MUSICNN_SR,
                    "n_fft": N_FFT,
                    "hop_length": HOP,
                    "n_mels": N_MELS,
                    "transform": "librosa.feature.melspectrogram(...).T -> log10(10000 * x + 1), float32",
                    "patch_frames": PATCH_FRAMES,
                    "patch_seconds": PATCH_FRAMES * HOP / MUSICNN_SR,
                    "pad_short": "repeat-pad",
                },
                "outputs": {k: int(v.shape[-1]) for k, v in outs.items()},
                "tags": list(tags),
                "keras_file": filename,
                "keras_sha256": file_sha256(target),
                "keras_bytes": target.stat().st_size,
                "parameters": int(model.count_params()),
                "keras_version": keras.__version__,
            }
            write_text_atomic(out_dir / folder / "encoder.json", json.dumps(record, indent=2) + "\n")
            write_text_atomic(out_dir / folder / "LICENSE", licence)
            for path in (target, out_dir / folder / "encoder.json", out_dir / folder / "LICENSE"):
                path.chmod(0o644)  # temp files are created 0600; shipped files are world-readable
            records.append(record)
            print(f"{name}: {target} ({record['keras_bytes']} bytes, {record['parameters']} parameters, "
                  f"sha256 {record['keras_sha256']})")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, required=True, help="musicnn-0.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=ENCODERS_DIR, help="default: assets/encoders")
    parser.add_argument("--only", choices=sorted(CONVERSIONS), action="append",
                        help="convert only this encoder (repeatable; default: all)")
    args = parser.parse_args(argv)
    if not args.wheel.is_file():
        parser.error(f"wheel not found: {args.wheel}")
    convert(args.wheel, args.out, args.only or sorted(CONVERSIONS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

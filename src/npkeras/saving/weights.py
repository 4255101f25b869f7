"""``model.save_weights`` / ``model.load_weights`` by file name: ``.weights.h5`` is Keras 3's
layout (readable by Keras itself), anything else npkeras's own ``.weights.npz`` or
model file."""

from __future__ import annotations

import os

from npkeras import services
from npkeras.saving.format import load_weights as load_npz
from npkeras.saving.format import save_weights as save_npz
from npkeras.saving.keras_h5 import load_keras_weights, save_keras_weights

KERAS_SUFFIX = ".weights.h5"
NPKERAS_SUFFIX = ".weights.npz"


@services.provide("save_weights")
def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write ``model``'s weights to ``filepath``; a ``.weights.h5`` name gives a Keras file."""
    path = os.fspath(filepath)
    if not path.endswith((NPKERAS_SUFFIX, KERAS_SUFFIX)):
        raise ValueError(
            f"Weight files must end in '{NPKERAS_SUFFIX}' (npkeras) or "
            f"'{KERAS_SUFFIX}' (Keras 3's layout); received '{path}'."
        )
    if path.endswith(KERAS_SUFFIX):
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"'{path}' exists and overwrite=False.")

        save_keras_weights(model, path)
        return

    save_npz(model, path, overwrite=overwrite)


@services.provide("load_weights")
def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights into ``model``; a ``.weights.h5`` name is read as a Keras 3 file."""
    path = os.fspath(filepath)
    if path.endswith(KERAS_SUFFIX):
        load_keras_weights(model, path, skip_mismatch=skip_mismatch)
        return

    load_npz(model, path, skip_mismatch=skip_mismatch)

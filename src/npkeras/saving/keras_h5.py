"""Weights in Keras 3's ``.weights.h5`` layout, both ways (needs h5py: ``pip install npkeras[h5]``).

Keras 3 stores each layer's variables, in creation order, under a path built from the
model's structure: ``layers/dense/vars/0`` (kernel), ``layers/dense/vars/1`` (bias),
``layers/dense_1/...`` for the second Dense, nested models under their own
``layers/<model>/``. npkeras layers create their variables in the same order and
shapes (Dense kernel ``(input_dim, units)``), so the files map one to one.
"""

from __future__ import annotations

import os

from npkeras.backend import to_numpy, xp
from npkeras.layers.base import Layer
from npkeras.models.model import Model
from npkeras.naming import to_snake_case
from npkeras.saving.atomic import atomic_write
from npkeras.saving.reader import check_regular_file, refusing
from npkeras.saving.safety import ModelFileError


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Keras .weights.h5 files need h5py: `pip install npkeras[h5]` (or `pip install h5py`)."
        ) from None
    return h5py


def _keras_groups(model, prefix=""):
    """[(group path, layer)] for every layer of ``model`` in Keras 3's naming."""

    out, counts = [], {}
    for layer in model.layers:
        base = "functional" if type(layer) is Model else to_snake_case(type(layer).__name__)
        k = counts.get(base, 0)
        counts[base] = k + 1
        path = f"{prefix}layers/{base}" if k == 0 else f"{prefix}layers/{base}_{k}"
        if isinstance(layer, Model):
            out += _keras_groups(layer, prefix=f"{path}/")
        else:
            out.append((path, layer))
            cell = getattr(layer, "cell", None)
            if isinstance(cell, Layer) and cell.params:  # recurrent layers: Keras keeps
                out.append((f"{path}/cell", cell))  # the weights under `<layer>/cell`
    return out


def _stored_variables(f, path: str, filepath) -> list:
    """The datasets under ``path/vars`` in index order; [] when the layer stores none."""
    h5py = _h5py()
    group = f.get(f"{path}/vars")
    if group is None:
        return []
    if not isinstance(group, h5py.Group):
        raise ModelFileError(f"'{filepath}' holds '{path}/vars', which is not a group.")
    keys = list(group.keys())
    if not all(k.isdigit() and len(k) < 10 for k in keys) or len(set(map(int, keys))) != len(keys):
        raise ModelFileError(
            f"'{filepath}' names the variables of '{path}' {keys[:5]}; "
            "Keras numbers them 0, 1, 2..."
        )
    datasets = [group[k] for k in sorted(keys, key=int)]
    for key, dataset in zip(sorted(keys, key=int), datasets):
        if not isinstance(dataset, h5py.Dataset):
            raise ModelFileError(f"'{filepath}' variable '{path}/vars/{key}' is not a dataset.")
    return datasets


def load_keras_weights(model, filepath) -> None:
    """Load weights saved by Keras 3's ``model.save_weights("x.weights.h5")`` into ``model``.

    The npkeras model must have the same architecture (same layer types in the same
    order); names, counts, shapes and values are checked before any weight changes (a
    dataset's shape is compared before it is read), and every refusal of the file raises
    :class:`~npkeras.saving.ModelFileError`.
    """
    h5py = _h5py()
    filepath = check_regular_file(filepath, "weights")
    try:
        f = h5py.File(filepath, "r")
    except OSError as err:
        if isinstance(err, PermissionError):
            raise
        raise ModelFileError(f"'{filepath}' is not a readable HDF5 file: {err}") from None
    assignments = []
    with f, refusing(f"Keras weights file '{filepath}'", also=(OSError,)):
        for path, layer in _keras_groups(model):
            targets = list(layer.params.items())
            stored = _stored_variables(f, path, filepath)
            if len(stored) != len(targets):
                raise ModelFileError(
                    f"'{filepath}' holds {len(stored)} variable(s) at '{path}', but npkeras layer "
                    f"'{layer.name}' ({type(layer).__name__}) has {len(targets)}. The two models "
                    "must have the same layers in the same order."
                )
            for i, ((name, target), dataset) in enumerate(zip(targets, stored)):
                where = f"'{filepath}' variable '{path}/vars/{i}'"
                if dataset.dtype.kind not in "biuf":
                    raise ModelFileError(f"{where} is not a numeric array.")
                if dataset.shape != target.shape:
                    raise ModelFileError(
                        f"{where} has shape {dataset.shape}, but layer '{layer.name}' weight "
                        f"'{name}' needs {target.shape}."
                    )
                value = dataset[()]
                if value.dtype.kind == "f" and not xp.isfinite(value).all():
                    raise ModelFileError(f"{where} holds NaN or infinite values.")
                assignments.append((target, value))
    for target, value in assignments:  # all checked first: a mismatch changes nothing
        target[...] = value


def save_keras_weights(model, filepath) -> None:
    """Write ``model``'s weights as a Keras 3 ``.weights.h5`` file (loadable by
    ``keras_model.load_weights``), atomically."""
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"Keras weight files must end in '.weights.h5'; received '{filepath}'.")
    with atomic_write(filepath, mode="w+b") as f, h5py.File(f, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        h5.create_group("layers")
        for path, layer in _keras_groups(model):
            group = h5.require_group(path).create_group("vars")
            group.attrs["name"] = layer.name
            for i, value in enumerate(layer.params.values()):
                group.create_dataset(str(i), data=to_numpy(value))

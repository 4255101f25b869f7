"""Weights in Keras 3's ``.weights.h5`` layout, both ways (needs h5py: ``pip install npkeras[h5]``).

Keras 3 stores each layer's variables under a path built from the model's structure:
``layers/dense/vars/0`` (kernel), ``layers/dense/vars/1`` (bias), ``layers/dense_1/...`` for
the second Dense, nested models under their own ``layers/<model>/``, sub-layers under
their attribute names (``layers/multi_head_attention/query_dense/vars/0``); see
:mod:`npkeras.saving.keras_paths`. npkeras layers create their variables in the same
order and shapes (Dense kernel ``(input_dim, units)``), so the files map one to one.
"""

from __future__ import annotations

import os
import warnings

from npkeras.backend import to_numpy, xp
from npkeras.saving.atomic import atomic_write
from npkeras.saving.keras_paths import keras_layer_paths, keras_variables, vars_group
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


def _stored_variables(f, where: str, filepath) -> list:
    """The datasets in group ``where`` in index order; [] when the layer stores none."""
    h5py = _h5py()
    group = f.get(where)
    if group is None:
        return []
    if not isinstance(group, h5py.Group):
        raise ModelFileError(f"'{filepath}' holds '{where}', which is not a group.")
    keys = list(group.keys())
    if not all(k.isdigit() and len(k) < 10 for k in keys) or len(set(map(int, keys))) != len(keys):
        raise ModelFileError(
            f"'{filepath}' names the variables of '{where}' {keys[:5]}; "
            "Keras numbers them 0, 1, 2..."
        )
    datasets = [group[k] for k in sorted(keys, key=int)]
    for key, dataset in zip(sorted(keys, key=int), datasets):
        if not isinstance(dataset, h5py.Dataset):
            raise ModelFileError(f"'{filepath}' variable '{where}/{key}' is not a dataset.")
    return datasets


class _WeightMismatch(ModelFileError):
    """The file's variables for a layer do not fit it (count or shape)."""


def _layer_values(f, path, layer, filepath) -> list:
    """[(target array, value)] for ``layer``'s variables from the file, all checked."""
    targets = keras_variables(layer)
    group = vars_group(path)
    stored = _stored_variables(f, group, filepath)
    if len(stored) != len(targets):
        raise _WeightMismatch(
            f"'{filepath}' holds {len(stored)} variable(s) at '{group}', but npkeras "
            f"layer '{layer.name}' ({type(layer).__name__}) has {len(targets)}. The two "
            "models must have the same layers in the same order."
        )
    values = []
    for i, (variable, dataset) in enumerate(zip(targets, stored)):
        target = variable.value
        where = f"'{filepath}' variable '{group}/{i}'"
        if dataset.dtype.kind not in "biuf":
            raise ModelFileError(f"{where} is not a numeric array.")
        if dataset.shape != target.shape:
            raise _WeightMismatch(
                f"{where} has shape {dataset.shape}, but layer '{layer.name}' weight "
                f"'{variable.name}' needs {target.shape}."
            )
        values.append((target, dataset))
    out = []
    for i, (target, dataset) in enumerate(values):
        value = dataset[()]  # read only once every shape fits
        if value.dtype.kind == "f" and not xp.isfinite(value).all():
            raise ModelFileError(
                f"'{filepath}' variable '{group}/{i}' holds NaN or infinite values."
            )
        out.append((target, value))
    return out


def load_keras_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights saved by Keras 3's ``model.save_weights("x.weights.h5")`` into ``model``.

    The npkeras model must have the same architecture (same layer types in the same
    order); names, counts, shapes and values are checked before any weight changes (a
    dataset's shape is compared before it is read), and every refusal of the file raises
    :class:`~npkeras.saving.ModelFileError`. With ``skip_mismatch=True`` (as Keras's
    ``load_weights``), a layer whose variables do not fit in number or shape keeps its
    weights, with a warning, and the others load.
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
        for path, layer in keras_layer_paths(model):
            try:
                assignments += _layer_values(f, path, layer, filepath)
            except _WeightMismatch as err:
                if not skip_mismatch:
                    raise
                warnings.warn(
                    f"Skipping the weights of layer '{layer.name}' (skip_mismatch=True): {err}",
                    stacklevel=2,
                )
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
        for path, layer in keras_layer_paths(model):
            group = h5.require_group(vars_group(path))
            group.attrs["name"] = layer.name
            for i, variable in enumerate(keras_variables(layer)):
                group.create_dataset(str(i), data=to_numpy(variable.value))

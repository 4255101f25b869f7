"""The ``.npkeras`` model file: one zip archive with four members.

- ``config.json``: architecture (every layer's config, the graph), compile settings,
  and user metadata;
- ``weights.npz``: every weight by a stable path such as ``layers/dense_1/kernel``;
- ``optimizer.npz``: optimizer state (step count, moments, schedule position);
- ``metadata.json``: format version, npkeras/NumPy versions, creation time and a
  SHA-256 of each other member.

Nothing in the file is code: classes are named and looked up in an explicit registry,
arrays are read with ``allow_pickle=False``, and every member is checked before use.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
import zipfile
import zlib

from npkeras import backend, initializers
from npkeras import losses as losses_module
from npkeras import metrics as metrics_module
from npkeras import optimizers as optimizers_module
from npkeras.saving import safety
from npkeras.saving.atomic import atomic_write, check_writable_target
from npkeras.saving.graph import deserialize_layer, serialize_layer
from npkeras.saving.registry import custom_object_scope, serialize_object
from npkeras.utils.naming import to_snake_case

FORMAT_VERSION = 1
MEMBERS = ("config.json", "weights.npz", "optimizer.npz", "metadata.json")


def _weight_map(model) -> dict:
    """{stable path: array} for every weight of ``model``.

    Paths follow the model's structure, not the global layer names: the i-th Dense of
    the model is ``layers/dense_i`` (the first is ``layers/dense``), so weights load
    into any model of the same architecture, as in Keras.
    """
    out, counts = {}, {}
    for layer in model._all_layers():
        base = to_snake_case(type(layer).__name__)
        k = counts.get(base, 0)
        counts[base] = k + 1
        prefix = f"layers/{base}" if k == 0 else f"layers/{base}_{k}"
        for name, value in layer.params.items():
            out[f"{prefix}/{name}"] = value
    return out


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    backend.host_xp.savez(buffer, **{k: backend.to_numpy(v) for k, v in arrays.items()})
    return buffer.getvalue()


def _serialize_spec(spec):
    """Losses/metrics as given to compile(), in JSON: names stay names, objects become configs."""
    if spec is None or isinstance(spec, (str, int, float)):
        return spec
    if isinstance(spec, dict):
        return {"__dict__": {k: _serialize_spec(v) for k, v in spec.items()}}
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(v) for v in spec]
    if hasattr(spec, "get_config"):
        return {"__object__": serialize_object(spec)}
    raise ValueError(f"Cannot save compile argument {spec!r}: use names or Loss/Metric objects.")


def _deserialize_spec(spec, kind):
    if isinstance(spec, list):
        return [_deserialize_spec(v, kind) for v in spec]
    if isinstance(spec, dict) and "__dict__" in spec:
        return {k: _deserialize_spec(v, kind) for k, v in spec["__dict__"].items()}
    if isinstance(spec, dict) and "__object__" in spec:
        if kind == "loss":
            return losses_module.get(spec["__object__"])
        return metrics_module.resolve(spec["__object__"], (1,), (1,))
    return spec


def model_config(model) -> dict:
    """The JSON-ready description of ``model`` written to config.json."""
    config = {"model": serialize_layer(model), "metadata": getattr(model, "metadata", None) or {}}
    if model.compiled:
        args = model._compile_args
        config["compile"] = {
            "optimizer": optimizers_module.serialize(model.optimizer),
            "loss": _serialize_spec(args["loss"]),
            "metrics": _serialize_spec(args["metrics"]),
            "loss_weights": _serialize_spec(args["loss_weights"]),
        }
    return config


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True,
               training_state: dict | None = None) -> None:
    """Write ``model`` to ``filepath`` atomically (see the module docstring for the format).

    ``training_state`` (JSON-ready) is stored for :func:`restore_training_state`.
    """
    filepath = os.fspath(filepath)
    check_writable_target(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")
    config = model_config(model)
    config["rng_state"] = backend.rng_state()
    if training_state is not None:
        config["training_state"] = training_state
    members = {
        "config.json": json.dumps(config, indent=1).encode("utf-8"),
        "weights.npz": _npz_bytes(_weight_map(model)),
    }
    if include_optimizer and model.compiled and model.optimizer.built:
        state = model.optimizer.get_state()
        members["optimizer.npz"] = _npz_bytes(state)
    from npkeras import __version__

    metadata = {
        "format": "npkeras",
        "format_version": FORMAT_VERSION,
        "npkeras_version": __version__,
        "numpy_version": backend.host_xp.__version__,
        "python_version": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sha256": {name: safety.sha256(data) for name, data in members.items()},
    }
    members["metadata.json"] = json.dumps(metadata, indent=1).encode("utf-8")
    with atomic_write(filepath) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _open_checked(filepath):
    """(config, weights, optimizer state or None, metadata) from a verified file."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at '{filepath}'.")
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"'{filepath}' is a directory, not a model file.")
    try:
        zf = zipfile.ZipFile(filepath)
    except zipfile.BadZipFile:
        raise safety.ModelFileError(
            f"'{filepath}' is not an npkeras model file, or it is truncated or corrupt "
            "(not a readable zip archive)."
        ) from None
    with zf:
        safety.check_member_names(zf, MEMBERS, filepath)
        names = set(zf.namelist())
        for needed in ("config.json", "weights.npz", "metadata.json"):
            if needed not in names:
                raise safety.ModelFileError(f"'{filepath}' has no {needed}: it is not a complete model file.")
        try:
            raw = {name: safety.read_member(zf, name, filepath) for name in names}
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
            raise safety.ModelFileError(f"'{filepath}' is truncated or corrupt: {err}") from None
    metadata = safety.parse_json(raw["metadata.json"], f"metadata.json of '{filepath}'")
    if not isinstance(metadata, dict) or metadata.get("format") != "npkeras":
        raise safety.ModelFileError(f"'{filepath}' is not an npkeras model file (bad metadata.json).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise safety.UnsupportedFormatVersionError(
            f"'{filepath}' uses model file format version {version!r}; this npkeras reads "
            f"versions up to {FORMAT_VERSION}. Upgrade npkeras to load it."
        )
    sums = metadata.get("sha256") or {}
    for name, data in raw.items():
        if name == "metadata.json":
            continue
        if sums.get(name) != safety.sha256(data):
            raise safety.ChecksumMismatchError(
                f"Member {name} of '{filepath}' does not match the SHA-256 recorded when it was "
                "saved: the file is damaged or was altered."
            )
    config = safety.parse_json(raw["config.json"], f"config.json of '{filepath}'")
    weights = safety.load_arrays(raw["weights.npz"], f"weights.npz of '{filepath}'")
    opt_state = (safety.load_arrays(raw["optimizer.npz"], f"optimizer.npz of '{filepath}'")
                 if "optimizer.npz" in raw else None)
    return config, weights, opt_state, metadata


def _assign_weights(model, weights: dict, source, skip_mismatch=False):
    targets = _weight_map(model)
    missing = sorted(set(targets) - set(weights))
    unexpected = sorted(set(weights) - set(targets))
    if (missing or unexpected) and not skip_mismatch:
        raise ValueError(
            f"The weights in '{source}' do not fit model '{model.name}': missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}. Pass skip_mismatch=True to load the ones that fit."
        )
    for key, target in targets.items():
        if key not in weights:
            continue
        value = weights[key]
        if value.shape != target.shape:
            if skip_mismatch:
                continue
            raise ValueError(
                f"Weight '{key}' in '{source}' has shape {value.shape}, but model '{model.name}' "
                f"needs {target.shape}."
            )
        target[...] = backend.to_device(value)


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True,
               restore_random_state: bool = False):
    """Rebuild a model saved with ``model.save``; nothing in the file is executed.

    With ``compile=True`` the model comes back compiled with its optimizer state, so
    training continues exactly where it stopped. ``restore_random_state=True`` also
    puts the global random generator back where it was at save time (for resuming a
    run in a new process).
    """
    config, weights, opt_state, _ = _open_checked(filepath)
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise safety.ModelFileError(f"config.json of '{filepath}' has no model description.")
    with custom_object_scope(custom_objects), initializers.skipping_draws():
        model = deserialize_layer(config["model"])
        if not model.built:
            raise safety.ModelFileError(f"The model in '{filepath}' has no input shape to build from.")
        model.metadata = config.get("metadata") or {}
        _assign_weights(model, weights, filepath)
        if compile and config.get("compile"):
            c = config["compile"]
            model.compile(optimizer=optimizers_module.get(c["optimizer"]),
                          loss=_deserialize_spec(c["loss"], "loss"),
                          metrics=_deserialize_spec(c["metrics"], "metric"),
                          loss_weights=_deserialize_spec(c["loss_weights"], "loss"))
            if opt_state is not None:
                buf = model._prepare_parameters()
                model.optimizer.set_state(opt_state, [buf.params])
    if restore_random_state and config.get("rng_state"):
        backend.set_rng_state(config["rng_state"])
    return model


def restore_training_state(model, filepath) -> dict:
    """Load weights, optimizer state and the random generator from ``filepath`` into an
    existing compiled ``model``; returns the saved ``training_state`` dict."""
    config, weights, opt_state, _ = _open_checked(filepath)
    _assign_weights(model, weights, filepath)
    if opt_state is not None and model.compiled:
        buf = model._prepare_parameters()
        model.optimizer.set_state(opt_state, [buf.params])
    if config.get("rng_state"):
        backend.set_rng_state(config["rng_state"])
    return config.get("training_state") or {}


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write only the weights, as ``.weights.npz`` (a plain NumPy archive)."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.npz"):
        raise ValueError(f"Weight files must end in '.weights.npz'; received '{filepath}'.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")
    with atomic_write(filepath) as f:
        f.write(_npz_bytes(_weight_map(model)))


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights saved by :func:`save_weights` (names and shapes checked)."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No weights file at '{filepath}'.")
    if filepath.endswith(".npkeras"):
        _, weights, _, _ = _open_checked(filepath)
    else:
        with open(filepath, "rb") as f:
            weights = safety.load_arrays(f.read(), f"'{filepath}'")
    _assign_weights(model, weights, filepath, skip_mismatch)


def model_to_json(model, **kwargs) -> str:
    """The architecture as a JSON string (no weights)."""
    return json.dumps(serialize_layer(model), **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None):
    """A new, freshly initialised model from :func:`model_to_json` output."""
    config = safety.parse_json(json_string.encode("utf-8"), "the model JSON")
    with custom_object_scope(custom_objects):
        return deserialize_layer(config)

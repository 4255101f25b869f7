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

from npkeras import backend, initializers, services, version
from npkeras import losses as losses_module
from npkeras import metrics as metrics_module
from npkeras import optimizers as optimizers_module
from npkeras.backend import host_xp
from npkeras.models.config import deserialize_layer, serialize_layer
from npkeras.naming import to_snake_case
from npkeras.registry import custom_object_scope, serialize_object
from npkeras.saving import reader, safety, schema
from npkeras.saving.atomic import atomic_write, check_writable_target

FORMAT_VERSION = reader.FORMAT_VERSION


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
    host_xp.savez(buffer, **{k: backend.to_numpy(v) for k, v in arrays.items()})
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


def _rng_state():
    return json.loads(json.dumps(backend.rng_state(), default=int))


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


@services.provide("save_model")
def save_model(
    model,
    filepath,
    overwrite: bool = True,
    include_optimizer: bool = True,
    training_state: dict | None = None,
) -> None:
    """Write ``model`` to ``filepath`` atomically (see the module docstring for the format).

    ``training_state`` (JSON-ready) is stored for :func:`restore_training_state`.
    """
    filepath = os.fspath(filepath)
    check_writable_target(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")
    config = model_config(model)
    config["rng_state"] = _rng_state()
    if training_state is not None:
        config["training_state"] = training_state
    members = {
        "config.json": json.dumps(config, indent=1).encode("utf-8"),
        "weights.npz": _npz_bytes(_weight_map(model)),
    }
    if include_optimizer and model.compiled and model.optimizer.built:
        state = model.optimizer.get_state()
        members["optimizer.npz"] = _npz_bytes(state)
    metadata = {
        "format": "npkeras",
        "format_version": FORMAT_VERSION,
        "npkeras_version": version.__version__,
        "numpy_version": backend.numpy_version,
        "python_version": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sha256": {name: safety.sha256(data) for name, data in members.items()},
    }
    members["metadata.json"] = json.dumps(metadata, indent=1).encode("utf-8")
    with atomic_write(filepath) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _matched_weights(model, weights: dict, source, skip_mismatch=False) -> list:
    """[(model weight, saved value)] for every weight of ``model``, all checked before
    any is assigned, so a refused file leaves the model as it was."""
    targets = _weight_map(model)
    missing = sorted(set(targets) - set(weights))
    unexpected = sorted(set(weights) - set(targets))
    if (missing or unexpected) and not skip_mismatch:
        raise safety.ModelFileError(
            f"The weights in '{source}' do not fit model '{model.name}': missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}. Pass skip_mismatch=True to load the ones that fit."
        )
    pairs = []
    for key, target in targets.items():
        if key not in weights:
            continue
        value = weights[key]
        if value.shape != target.shape:
            if skip_mismatch:
                continue
            raise safety.ModelFileError(
                f"Weight '{key}' in '{source}' has shape {value.shape}, but model '{model.name}' "
                f"needs {target.shape}."
            )
        narrowing = (
            value.dtype.kind == "f"
            and target.dtype.kind == "f"
            and value.dtype.itemsize > target.dtype.itemsize
            and value.size
        )
        if narrowing and host_xp.abs(value).max() > host_xp.finfo(target.dtype).max:
            raise safety.ModelFileError(
                f"Weight '{key}' in '{source}' holds values beyond the range of {target.dtype}."
            )
        pairs.append((target, value))
    return pairs


def _assign_weights(model, weights: dict, source, skip_mismatch=False):
    for target, value in _matched_weights(model, weights, source, skip_mismatch):
        target[...] = backend.to_device(value)


def _set_optimizer_state(model, opt_state: dict, filepath) -> None:
    iterations = opt_state.get("iterations")
    if (
        iterations is None
        or iterations.shape != ()
        or iterations.dtype.kind not in "iuf"
        or not 0 <= iterations <= 2**53
        or iterations != int(iterations)
    ):
        raise safety.ModelFileError(
            f"optimizer.npz of '{filepath}' needs 'iterations', a whole number >= 0; received "
            f"{iterations!r}."
        )
    with reader.refusing(f"The optimizer state in '{filepath}'"):
        buf = model._prepare_parameters()
        model.optimizer.set_state(opt_state, [buf.params])


def _checked_rng_state(state: dict, filepath):
    """``state`` once a generator of the current kind accepts it (the global one is
    changed only after everything else has loaded)."""
    bit_generator = backend.rng().bit_generator
    with reader.refusing(f"The random generator state in '{filepath}'"):
        if state["bit_generator"] != type(bit_generator).__name__:
            raise ValueError(
                f"it is for {state['bit_generator']!r}, but npkeras uses "
                f"{type(bit_generator).__name__}"
            )
        type(bit_generator)().state = state
    return state


def _compile_from_config(model, settings: dict, filepath) -> None:
    with reader.refusing(f"The compile settings in '{filepath}'"):
        model.compile(
            optimizer=optimizers_module.get(settings["optimizer"]),
            loss=_deserialize_spec(settings.get("loss"), "loss"),
            metrics=_deserialize_spec(settings.get("metrics"), "metric"),
            loss_weights=_deserialize_spec(settings.get("loss_weights"), "loss"),
        )


@services.provide("load_model")
def load_model(
    filepath,
    custom_objects: dict | None = None,
    compile: bool = True,
    restore_random_state: bool = False,
    limits: safety.LoadLimits | None = None,
):
    """Rebuild a model saved with ``model.save``; nothing in the file is executed.

    With ``compile=True`` the model comes back compiled with its optimizer state, so
    training continues exactly where it stopped. ``restore_random_state=True`` also
    puts the global random generator back where it was at save time (for resuming a
    run in a new process). ``limits`` (a :class:`~npkeras.saving.LoadLimits`) bounds
    what reading the file may cost; the defaults suit any ordinary model.

    Every refusal of the file raises :class:`~npkeras.saving.ModelFileError`.
    """
    config, weights, opt_state, _ = reader.open_model_file(filepath, limits)
    filepath = os.fspath(filepath)
    rng_state = config.get("rng_state") if restore_random_state else None
    if rng_state:
        _checked_rng_state(rng_state, filepath)
    # The config may create no more weight values than the file stores: a layer asking
    # for more fails before its weights are allocated.
    budget = safety.stored_size(weights)
    with custom_object_scope(custom_objects), initializers.skipping_draws(max_elements=budget):
        with reader.refusing(f"The model described in config.json of '{filepath}'"):
            model = deserialize_layer(config["model"])
        if not model.built:
            raise safety.ModelFileError(
                f"The model in '{filepath}' has no input shape to build from."
            )
        model.metadata = config.get("metadata") or {}
        _assign_weights(model, weights, filepath)
        if compile and config.get("compile"):
            _compile_from_config(model, config["compile"], filepath)
            if opt_state is not None:
                _set_optimizer_state(model, opt_state, filepath)
    if rng_state:
        backend.set_rng_state(rng_state)
    return model


@services.provide("restore_training_state")
def restore_training_state(model, filepath, limits: safety.LoadLimits | None = None) -> dict:
    """Load weights, optimizer state and the random generator from the backup at
    ``filepath`` into an existing compiled ``model``; returns the saved
    ``training_state`` dict. Everything is checked before the model changes."""
    config, weights, opt_state, _ = reader.open_model_file(filepath, limits)
    if not config.get("training_state"):
        raise safety.ModelFileError(
            f"'{filepath}' holds no training state: it is not a BackupAndRestore backup."
        )
    pairs = _matched_weights(model, weights, filepath)
    rng_state = config.get("rng_state")
    if rng_state:
        _checked_rng_state(rng_state, filepath)
    if opt_state is not None and model.compiled:
        _set_optimizer_state(model, opt_state, filepath)
    for target, value in pairs:
        target[...] = value
    if rng_state:
        backend.set_rng_state(rng_state)
    return config["training_state"]


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write only the weights, as ``.weights.npz`` (a plain NumPy archive)."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.npz"):
        raise ValueError(f"Weight files must end in '.weights.npz'; received '{filepath}'.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False.")
    with atomic_write(filepath) as f:
        f.write(_npz_bytes(_weight_map(model)))


def load_weights(
    model, filepath, skip_mismatch: bool = False, limits: safety.LoadLimits | None = None
) -> None:
    """Load weights saved by :func:`save_weights` (or from a ``.npkeras`` file); names,
    shapes and values are checked before any weight changes, and every refusal of the
    file raises :class:`~npkeras.saving.ModelFileError`."""
    limits = limits or safety.DEFAULT_LIMITS
    filepath = reader.check_regular_file(filepath, "weights")
    if filepath.endswith(".npkeras"):
        weights = reader.open_model_file(filepath, limits).weights
    else:
        size = os.path.getsize(filepath)
        if size > limits.max_member_bytes:
            raise safety.UnsafeModelFileError(
                f"'{filepath}' is {size:,} bytes, over the limit of {limits.max_member_bytes:,}."
            )
        with open(filepath, "rb") as f:
            weights = safety.load_arrays(f.read(), f"'{filepath}'", limits)
        reader.check_finite(weights, f"'{filepath}'")
    _assign_weights(model, weights, filepath, skip_mismatch)


@services.provide("model_to_json")
def model_to_json(model, **kwargs) -> str:
    """The architecture as a JSON string (no weights)."""
    return json.dumps(serialize_layer(model), **kwargs)


@services.provide("model_from_json")
def model_from_json(json_string: str, custom_objects: dict | None = None):
    """A new, freshly initialised model from :func:`model_to_json` output."""
    config = safety.parse_json(json_string.encode("utf-8"), "the model JSON")
    reader.check_schema(config, schema.Layer(in_graph=False), "The model JSON", "model")
    with custom_object_scope(custom_objects), reader.refusing("The model JSON"):
        return deserialize_layer(config)

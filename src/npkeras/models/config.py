"""Architecture configs (JSON-ready dicts) of Sequential and functional models, and
rebuilding models from them through the class registry.

The model classes call these from ``get_config``/``from_config``, passing themselves,
so this module sits below them and imports neither.
"""

from __future__ import annotations

import contextlib
import heapq

from npkeras import initializers
from npkeras.errors import (
    BAD_VALUE_ERRORS,
    LayerConfigError,
    ModelFileError,
    UnsafeModelFileError,
)
from npkeras.layers.base import Layer, builtin_layer_classes
from npkeras.layers.input_layer import Input, InputLayer
from npkeras.registry import custom_object_scope, get_registered_name, lookup_class


@contextlib.contextmanager
def _naming_layer(entry):
    """Errors while making, building or connecting one saved layer name that layer (the
    innermost one, for layers inside nested models)."""
    try:
        yield
    except ModelFileError:
        raise
    except initializers.WeightBudgetError as err:
        raise UnsafeModelFileError(
            f"Saved layer {_describe(entry)} asks for more weights than the file stores: {err}; "
            "refusing to build it."
        ) from None
    except BAD_VALUE_ERRORS as err:
        raise LayerConfigError(
            f"Saved layer {_describe(entry)} cannot be rebuilt from its config: "
            f"{type(err).__name__}: {err}"
        ) from err


def _describe(entry) -> str:
    if not isinstance(entry, dict):
        return repr(entry)[:60]
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    return f"{str(name)[:60]!r} ({str(entry.get('class_name'))[:60]})"


def serialize_layer(layer) -> dict:
    """``{"class_name", "config"}`` of a layer or model: the model classes save under
    Keras's names ("Sequential", "Functional"), other classes under their registered name."""
    class_name = vars(type(layer)).get("_saved_class_name") or get_registered_name(type(layer))
    return {"class_name": class_name, "config": layer.get_config()}


def deserialize_layer(config: dict):
    """A layer (or nested model) from ``{"class_name", "config"}``."""

    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(
            f"A saved layer must be a dict with 'class_name' and 'config'; received {config!r}."
        )
    try:
        cls = lookup_class(config.get("class_name"), "layer", builtin_layer_classes(), Layer)
    except ValueError as err:
        raise LayerConfigError(str(err)) from None
    with _naming_layer(config):
        return cls.from_config(dict(config.get("config") or {}))


def sequential_config(model) -> dict:
    input_shape = None
    if model._input_layer is not None:
        input_shape = list(model._input_layer.shape)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "input_shape": input_shape,
        "layers": [serialize_layer(layer) for layer in model._stack],
    }


def sequential_from_config(cls, config, custom_objects=None):
    """A ``cls`` (Sequential) from :func:`sequential_config`'s dict."""
    with custom_object_scope(custom_objects):
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model.add(Input(shape=tuple(config["input_shape"])))
        for layer_config in config.get("layers", []):
            layer = deserialize_layer(layer_config)
            with _naming_layer(layer_config):
                model.add(layer)
        model.trainable = config.get("trainable", True)
    return model


def _model_nodes(model):
    """For each layer, the nodes of it that belong to ``model``, in execution order."""
    per_layer: dict = {}
    for t in model._input_tensors:
        per_layer.setdefault(id(t.node.layer), []).append(t.node)
    for step in model._plan:
        per_layer.setdefault(id(step.layer), []).append(step.node)
    return per_layer


def _plain_call_options(call_kwargs) -> dict:
    """The call's JSON-able options (``use_causal_mask=True``, ...), saved with its node;
    arrays (constant masks) and ``training`` are not."""

    def plain(value):
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str))

    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in call_kwargs.items()
        if k != "training" and plain(v)
    }


def functional_config(model) -> dict:
    per_layer = _model_nodes(model)

    def ref(t):
        nodes = per_layer[id(t.node.layer)]
        return [t.node.layer.name, nodes.index(t.node), t.index]

    layers = []
    for layer in model.layers:
        inbound = [
            {
                "inputs": [ref(t) for t in node.inputs],
                "multi": node.multi_input,
                "kwargs": _plain_call_options(node.call_kwargs),
            }
            for node in per_layer.get(id(layer), [])
            if node.inputs
        ]
        layers.append({**serialize_layer(layer), "name": layer.name, "inbound_nodes": inbound})
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": [ref(t) for t in model._input_tensors],
        "output_layers": [ref(t) for t in model._output_tensors],
        "input_names": list(model.input_names),
        "output_names": list(model.output_names),
        **({"dict_outputs": True} if getattr(model, "_dict_outputs", False) else {}),
    }


def functional_from_config(cls, config, custom_objects=None):
    """A ``cls`` (functional Model) from :func:`functional_config`'s dict."""

    with custom_object_scope(custom_objects):
        created, pending = {}, []
        tensors: dict = {}
        for entry in config["layers"]:
            layer = deserialize_layer(entry)
            created[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(entry["name"], 0, 0)] = layer.output
            for index, node in enumerate(entry.get("inbound_nodes", [])):
                pending.append((layer, entry["name"], index, node))
        _call_nodes(pending, tensors)
        inputs = [tensors[tuple(r)] for r in config["input_layers"]]
        outputs = [tensors[tuple(r)] for r in config["output_layers"]]
        model = cls(
            inputs if len(inputs) > 1 else inputs[0],
            outputs if len(outputs) > 1 else outputs[0],
            name=config.get("name"),
        )
        if config.get("output_names") and len(outputs) == len(config["output_names"]):
            model.output_names = list(config["output_names"])
        model._dict_outputs = bool(config.get("dict_outputs"))
        model.trainable = config.get("trainable", True)
    return model


def _call_nodes(pending: list, tensors: dict) -> None:
    """Call each saved node ``(layer, name, node index, node)`` once the tensors it takes
    exist, adding the tensors it makes; in saved order where the graph allows (Kahn's
    algorithm: linear in the number of nodes whatever the order of the file)."""
    waiting: dict = {}  # tensor key -> positions of the nodes waiting for it
    missing_counts, ready = [], []
    for position, (_, _, _, node) in enumerate(pending):
        absent = {tuple(r) for r in node["inputs"]} - set(tensors)
        missing_counts.append(len(absent))
        for key in absent:
            waiting.setdefault(key, []).append(position)
        if not absent:
            ready.append(position)
    heapq.heapify(ready)
    called = 0
    while ready:
        layer, name, index, node = pending[heapq.heappop(ready)]
        args = [tensors[tuple(r)] for r in node["inputs"]]
        with _naming_layer({"name": name, "class_name": type(layer).__name__}):
            out = layer(args if node.get("multi") else args[0], **node.get("kwargs", {}))
        called += 1
        for i, tensor in enumerate(out if isinstance(out, list) else [out]):
            tensors[(name, index, i)] = tensor
            for position in waiting.pop((name, index, i), []):
                missing_counts[position] -= 1
                if missing_counts[position] == 0:
                    heapq.heappush(ready, position)
    if called < len(pending):
        raise ValueError(
            f"The saved model graph refers to tensors that no layer makes: {sorted(waiting)[:5]}."
        )

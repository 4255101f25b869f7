"""``keras.saving.serialize_keras_object`` / ``deserialize_keras_object``: any configurable
npkeras object (layer, loss, metric, optimizer, initializer, regularizer, constraint,
activation) or registered function to a JSON-ready dict and back, through the registry.

>>> import npkeras as keras
>>> config = keras.saving.serialize_keras_object(keras.layers.Dense(3, name="d"))
>>> config["class_name"], config["config"]["units"]
('Dense', 3)
>>> keras.saving.deserialize_keras_object(config).units
3
"""

from __future__ import annotations

from npkeras import (
    activations,
    constraints,
    initializers,
    losses,
    metrics,
    optimizers,
    regularizers,
)
from npkeras.layers import layer_classes
from npkeras.layers.base import Layer
from npkeras.models.config import deserialize_layer, serialize_layer
from npkeras.registry import (
    custom_object_scope,
    get_registered_name,
    lookup_class,
    lookup_function,
    registered_function_name,
)

_PLAIN = (str, int, float, bool, type(None))


def serialize_keras_object(obj):
    """``{"class_name", "config"}`` for an object with ``get_config``; registered functions
    become ``{"class_name": "function", "config": key}``; plain values stay as they are."""
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(v) for v in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        if isinstance(obj, Layer):
            return serialize_layer(obj)
        return {"class_name": get_registered_name(type(obj)), "config": obj.get_config()}
    if callable(obj) and not isinstance(obj, type):
        key = registered_function_name(obj)
        if key is None:
            raise ValueError(
                f"Cannot serialize function {getattr(obj, '__name__', obj)!r}: only registered "
                "functions are saved (by name). Decorate it with "
                "@keras.saving.register_keras_serializable()."
            )
        return {"class_name": "function", "config": key}
    raise TypeError(f"Cannot serialize {obj!r}: it has no get_config() and is not a function.")


def _builtin_classes() -> dict:
    """Every built-in configurable class by its class name."""

    classes = dict(layer_classes())
    for module in (
        activations,
        constraints,
        initializers,
        losses,
        metrics,
        optimizers,
        regularizers,
    ):
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__.startswith("npkeras"):
                classes.setdefault(value.__name__, value)
    return classes


def deserialize_keras_object(
    config, custom_objects: dict | None = None, safe_mode: bool = True, **kwargs
):
    """The object :func:`serialize_keras_object` described; classes and functions are looked
    up among npkeras's built-ins, the registered objects and ``custom_objects`` only."""
    if isinstance(config, _PLAIN):
        return config
    if isinstance(config, list):
        return [deserialize_keras_object(v, custom_objects) for v in config]
    if not isinstance(config, dict):
        raise TypeError(
            f"Cannot deserialize {config!r}: expected a dict from serialize_keras_object."
        )
    if "class_name" not in config:
        return {k: deserialize_keras_object(v, custom_objects) for k, v in config.items()}
    with custom_object_scope(custom_objects):
        if config["class_name"] == "function":
            return lookup_function(config.get("config"), "saved")

        cls = lookup_class(config["class_name"], "object", _builtin_classes())
        if issubclass(cls, Layer):
            return deserialize_layer(config)
        inner = dict(config.get("config") or {})
        return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)

"""Optimizers with Keras names, usable by class or by string ('adam', 'sgd', ...)."""

from npkeras.optimizers import schedules
from npkeras.optimizers.adam import Adam, Adamax, AdamW, Nadam
from npkeras.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from npkeras.optimizers.base import Optimizer
from npkeras.optimizers.sgd import SGD
from npkeras.utils.naming import unknown_name_error

_CLASSES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam,
            "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam'), an :class:`Optimizer` or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _CLASSES:
            raise unknown_name_error("optimizer", identifier, _CLASSES)
        return _CLASSES[key]()
    if isinstance(identifier, dict):
        from npkeras.saving.registry import deserialize_registered

        return deserialize_registered(identifier, "optimizer", _CLASSES, Optimizer)
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(optimizer: Optimizer) -> dict:
    from npkeras.saving.registry import serialize_object

    return serialize_object(optimizer)


__all__ = ["SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta",
           "Optimizer", "schedules", "get", "serialize"]

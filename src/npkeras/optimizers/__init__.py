"""Optimizers with Keras names, usable by class or by string ('adam', 'sgd', ...)."""

from npkeras.optimizers import schedules
from npkeras.optimizers.adam import Adam, Adamax, AdamW, Nadam
from npkeras.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from npkeras.optimizers.base import Optimizer
from npkeras.optimizers.sgd import SGD

_CLASSES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam,
            "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam'), an :class:`Optimizer` or a config dict."""
    from npkeras.saving.registry import resolve

    return resolve(identifier, "optimizer", _CLASSES, Optimizer)


def serialize(optimizer: Optimizer) -> dict:
    from npkeras.saving.registry import serialize_object

    return serialize_object(optimizer)


__all__ = ["SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta",
           "Optimizer", "schedules", "get", "serialize"]

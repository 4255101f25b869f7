"""Optimizers with Keras names, usable by class or by string ('adam', 'sgd', ...)."""

from npkeras.optimizers import schedules
from npkeras.optimizers.adam import Adam, Adamax, AdamW, Nadam
from npkeras.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from npkeras.optimizers.base import Optimizer
from npkeras.optimizers.sgd import SGD
from npkeras.registry import resolve, serialize_object

_CLASSES = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": Nadam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam'), an :class:`Optimizer` or a config dict."""

    return resolve(identifier, "optimizer", _CLASSES, Optimizer)


def serialize(optimizer: Optimizer) -> dict:

    return serialize_object(optimizer)


__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Optimizer",
    "schedules",
    "get",
    "serialize",
]

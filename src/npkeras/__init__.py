"""npkeras: the Keras API written from scratch on NumPy.

Every layer has an explicit ``forward`` and ``backward``; ``import npkeras as keras``
runs ordinary Keras training scripts.

>>> import numpy as np
>>> import npkeras as keras
>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> model.predict(np.zeros((2, 3)), verbose=0).shape
(2, 1)
"""

from npkeras import (
    activations,
    backend,
    callbacks,
    constraints,
    distribution,
    export,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from npkeras.layers import Input, InputLayer, Layer
from npkeras.layers.node import KerasTensor
from npkeras.models import Model, Sequential
from npkeras.ops import GradientTape, Variable
from npkeras.version import __version__  # noqa: E402

__all__ = [
    "Sequential",
    "Model",
    "Input",
    "InputLayer",
    "Layer",
    "KerasTensor",
    "Variable",
    "GradientTape",
    "ops",
    "layers",
    "activations",
    "losses",
    "metrics",
    "optimizers",
    "initializers",
    "regularizers",
    "callbacks",
    "saving",
    "utils",
    "backend",
    "models",
    "__version__",
    "distribution",
    "wrappers",
    "export",
    "random",
    "constraints",
    "preprocessing",
]


def __getattr__(name):
    # keras.wrappers pulls in scikit-learn (about 1.5 s), so it loads on first use
    if name == "wrappers":
        import importlib

        return importlib.import_module("npkeras.wrappers")
    raise AttributeError(f"module 'npkeras' has no attribute {name!r}")

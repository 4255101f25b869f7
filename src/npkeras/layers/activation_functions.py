"""Activations given as functions, as Keras 3 accepts them everywhere a layer takes an
``activation`` (``Activation(keras.ops.relu)``, ``Dense(8, activation=my_function)``).

``keras.ops`` activation functions map to the built-in activations, which keep their
hand-written derivatives (and the fused softmax/sigmoid + cross-entropy gradient). Any
other function of one tensor written with ``keras.ops`` becomes a
:class:`FunctionActivation`, whose derivative comes from the tape: ``grad`` runs the
function again on a watched copy of its input and back-propagates ``dy`` through the ops
it recorded. A function is saved by the name it is registered under
(``@keras.saving.register_keras_serializable()``), else by its ``__name__`` (loaded with
``custom_objects``); a lambda cannot be saved (npkeras never saves code).

>>> import numpy as np
>>> from npkeras import ops
>>> squash = get(lambda x: x * ops.sigmoid(x))
>>> squash.grad(np.ones(1), np.zeros(1), None).tolist()  # d/dx x sigmoid(x) at 0
[0.5]
"""

from __future__ import annotations

from npkeras import activations, ops
from npkeras.backend import xp
from npkeras.ops.tape import Tape, value_of
from npkeras.registry import get_registered_object, registered_function_name

#: keras.ops activation functions and the built-in activation each computes with its
#: default arguments
_OPS_ACTIVATIONS = {
    ops.relu: activations.relu,
    ops.selu: activations.selu,
    ops.elu: activations.elu,
    ops.sigmoid: activations.sigmoid,
    ops.tanh: activations.tanh,
    ops.softplus: activations.softplus,
    ops.softsign: activations.softsign,
    ops.silu: activations.silu,
    ops.hard_sigmoid: activations.hard_sigmoid,
    ops.exponential: activations.exponential,
    ops.leaky_relu: activations.LeakyReLU(),
    ops.gelu: activations.GELU(approximate=True),
    ops.softmax: activations.softmax,
    ops.log_softmax: activations.log_softmax,
}


class FunctionActivation(activations.Activation):
    """A function written with ``keras.ops`` used as an activation; its derivative comes
    from the tape (one more evaluation of the function in the backward pass).

    Args:
        function: ``f(x) -> y`` of one tensor.
    """

    def __init__(self, function):
        self.function = function
        # never a built-in's name: the fused cross-entropy gradient is for those only
        self.name = f"function {getattr(function, '__name__', type(function).__name__)}"

    def __call__(self, x):
        return value_of(self.function(x))

    def grad(self, dy, x, y):
        with Tape() as tape:
            leaf = tape.watch(x)
            out = self.function(leaf)
        (dx,) = tape.backprop([out], [dy], [leaf])
        return xp.zeros_like(leaf.value) if dx is None else dx  # out did not depend on x


def get(identifier) -> activations.Activation:
    """An activation from a name, an :class:`~npkeras.activations.Activation`, a config
    dict, None (linear) or any function (a registered function also by its saved name)."""
    if isinstance(identifier, str):
        try:
            return activations.get(identifier)
        except ValueError as err:  # a function's saved name ("package>name")
            function = get_registered_object(identifier)
            if callable(function) and not isinstance(function, type):
                return FunctionActivation(function)
            raise ValueError(
                f"{err} A function saved by name loads when it is registered with "
                "@keras.saving.register_keras_serializable() or passed in custom_objects."
            ) from None
    if callable(identifier) and not isinstance(identifier, (activations.Activation, type)):
        try:
            builtin = _OPS_ACTIVATIONS.get(identifier)
        except TypeError:  # an unhashable callable object
            builtin = None
        return builtin if builtin is not None else FunctionActivation(identifier)
    return activations.get(identifier)


def serialize(activation, owner: str):
    """What a layer's config stores for ``activation``: a built-in's name or config, a
    function's registered name (or ``__name__``); ``owner`` names the layer in the error
    a lambda raises."""
    if not isinstance(activation, FunctionActivation):
        return activations.serialize(activation)
    function = activation.function
    key = registered_function_name(function)
    if key is not None:
        return key
    name = getattr(function, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(
            f"{owner} cannot be saved: its activation {name or repr(function)!r} is a lambda "
            "(or a callable without a name), and npkeras saves functions by name, never as "
            "code. Define it with `def`, decorate it with "
            "@keras.saving.register_keras_serializable() and pass that function instead."
        )
    return name

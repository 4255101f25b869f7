"""Lambda (wrap a function written with ``keras.ops``) and Identity."""

from __future__ import annotations

import inspect

from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer
from npkeras.registry import lookup_function, registered_function_name


class Lambda(Layer):
    """Wraps ``function(inputs)`` as a layer; its gradient comes from the ops it uses.

    Saving: the function is stored by name, so only functions registered with
    ``@keras.saving.register_keras_serializable()`` can be saved (a lambda expression
    or an unregistered function raises a clear error; npkeras never saves bytecode).

    Args:
        function: ``f(inputs, **arguments)``, written with ``keras.ops`` (or NumPy for
            layers that need no gradient). May take ``mask`` and ``training``.
        output_shape: the output shape without the batch axis, or a function of the
            input shape; default: found by running ``function`` once.
        mask: a mask to return, or a function ``mask(inputs, previous_mask)``.
        arguments: extra keyword arguments for ``function``.

    >>> import numpy as np
    >>> from npkeras import ops
    >>> Lambda(lambda x: ops.square(x) + 1.0)(np.array([[2.0, 3.0]])).tolist()
    [[5.0, 10.0]]
    """

    supports_masking = True

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda layer '{self.name}' needs a callable `function`; received {function!r}."
            )
        self.function = function
        self.output_shape = (
            tuple(output_shape) if isinstance(output_shape, (list, tuple)) else output_shape
        )
        self.mask = mask
        self.arguments = dict(arguments or {})
        parameters = inspect.signature(function).parameters
        self._passes = {name for name in ("mask", "training") if name in parameters}

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._passes:
            kwargs["mask"] = mask
        if "training" in self._passes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return tuple(self.output_shape(input_shape))
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + self.output_shape

    def compute_mask(self, x, mask=None):
        if callable(self.mask):
            return self.mask(x, mask)
        return self.mask

    def get_config(self):
        key = registered_function_name(self.function)
        if key is None:
            name = getattr(self.function, "__name__", repr(self.function))
            raise ValueError(
                f"Lambda layer '{self.name}' cannot be saved: its function {name!r} is not "
                "registered, and npkeras saves functions by name, never as code. Decorate a "
                "named function with @keras.saving.register_keras_serializable() and pass "
                "it to Lambda, or write a Layer subclass with call() instead."
            )
        if callable(self.output_shape) or callable(self.mask):
            raise ValueError(
                f"Lambda layer '{self.name}' cannot be saved with a function as "
                "`output_shape` or `mask`; pass a shape tuple (or None)."
            )
        output_shape = list(self.output_shape) if self.output_shape is not None else None
        return {
            **super().get_config(),
            "function": {"class_name": "function", "config": key},
            "output_shape": output_shape,
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        function = config.pop("function")
        key = function.get("config") if isinstance(function, dict) else function
        return cls(lookup_function(key, "Lambda"), **config)


class Identity(Layer):
    """Returns its input unchanged (a placeholder layer); passes masks through.

    >>> import numpy as np
    >>> Identity()(np.array([[1.0, 2.0]])).tolist()
    [[1.0, 2.0]]
    """

    supports_masking = True

    def forward(self, x, training=False, mask=None):
        return x

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy if ctx.need_input_grad else None

    def compute_mask(self, x, mask=None):
        return mask

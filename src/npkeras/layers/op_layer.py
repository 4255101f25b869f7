"""``keras.ops`` on symbolic tensors: each op call becomes a graph node.

In a functional model, ``x + 1``, ``x[:, :4]`` or ``keras.ops.concatenate([a, b])`` on
outputs of ``keras.Input`` cannot compute anything yet. The ops' shared dispatcher
(:func:`npkeras.ops.core.keras_op`) sees the symbolic argument and calls
:func:`symbolic_op_call`, which wraps the op in an :class:`OpLayer`: the symbolic
arguments become the layer's inputs, every other argument is fixed in its config. The
layer's ``call`` runs the op on the tape, so its backward needs no code of its own.
"""

from __future__ import annotations

import json

from npkeras import backend, ops, random
from npkeras.backend import xp
from npkeras.layers.base import Layer
from npkeras.layers.node import KerasTensor, format_shape
from npkeras.naming import unique_name
from npkeras.ops.core import OpError, install_operators, register_symbolic
from npkeras.ops.numpy import OPERATORS
from npkeras.ops.tape import no_grad, value_of

#: where an op saved by name is looked up, in order
_NAMESPACES = (ops, ops.nn, ops.linalg, ops.numpy, random)


def _find_op(name: str):
    for namespace in _NAMESPACES:
        fn = getattr(namespace, name, None)
        if callable(fn) and getattr(fn, "op_name", None) == name:
            return fn
    raise ValueError(f"OpLayer: unknown op {name!r}; expected the name of a function in keras.ops.")


# -- arguments as JSON ----------------------------------------------------------------
def _encode(value, tensors: list):
    """``value`` as JSON-ready data; symbolic tensors are appended to ``tensors`` and
    replaced by their position."""
    if isinstance(value, KerasTensor):
        tensors.append(value)
        return {"__tensor__": len(tensors) - 1}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode(v, tensors) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"__slice__": [_encode(v, tensors) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    value = value_of(value)
    if isinstance(value, xp.ndarray):
        return {"__array__": backend.to_numpy(value).tolist(), "dtype": str(value.dtype)}
    if isinstance(value, xp.generic):
        return value.item()
    if isinstance(value, xp.dtype):
        return str(value)
    if isinstance(value, type) and issubclass(value, xp.generic):
        return xp.dtype(value).name
    json.dumps(value)  # anything else must be JSON already (numbers, strings, None)
    return value


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    if "__slice__" in value:
        return slice(*(_decode(v, tensors) for v in value["__slice__"]))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__array__" in value:
        return xp.asarray(value["__array__"], dtype=value["dtype"])
    return value


class OpLayer(Layer):
    """One ``keras.ops`` call in a functional graph (what ``x + y`` or
    ``keras.ops.mean(x, axis=1)`` on symbolic tensors makes).

    Args:
        function: the op's name in ``keras.ops`` (``"add"``, ``"get_item"``, ...).
        arguments: the op's positional arguments, JSON-encoded; ``{"__tensor__": i}``
            stands for the layer's i-th input.
        keyword_arguments: the op's keyword arguments, encoded the same way.

    Input shape: whatever the op takes (a list when it reads several tensors).
    Output shape: whatever the op makes.

    >>> import npkeras as keras
    >>> x = keras.Input(shape=(3,))
    >>> y = keras.ops.mean(x * 2.0, axis=-1)
    >>> type(y.node.layer).__name__, y.shape
    ('OpLayer', (None,))
    """

    integer_inputs = True  # indices and masks reach the op unchanged

    def __init__(self, function: str, arguments=None, keyword_arguments=None, **kwargs):
        kwargs.setdefault("name", unique_name(function))
        super().__init__(**kwargs)
        self.function = function
        self.op = _find_op(function)
        self.arguments = list(arguments or [])
        self.keyword_arguments = dict(keyword_arguments or {})
        self._multi = _count_tensors([self.arguments, self.keyword_arguments]) > 1
        self._input_dtypes = None

    def __call__(self, inputs=None, *args, **kwargs):
        tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if all(isinstance(t, KerasTensor) for t in tensors):  # the probe needs their types
            self._input_dtypes = [t.dtype for t in tensors]
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        tensors = inputs if self._multi else [inputs]
        args = _decode(self.arguments, tensors)
        kwargs = _decode(self.keyword_arguments, tensors)
        return self.op(*args, **kwargs)

    def compute_output_shape(self, input_shape):
        """Run the op on zeros twice, with every unknown size set to 2 and then 3: the
        sizes that change with them are unknown (None) in the output."""
        shapes = input_shape if self._multi else [input_shape]
        dtypes = self._input_dtypes or [backend.floatx()] * len(shapes)
        results = []
        for fill in (2, 3):
            probes = [
                xp.zeros(tuple(fill if d is None else d for d in s), dtype)
                for s, dtype in zip(shapes, dtypes)
            ]
            try:
                with no_grad(), xp.errstate(all="ignore"):
                    y = self.call(probes if self._multi else probes[0])
            except OpError as err:
                known = ", ".join(format_shape(s) for s in shapes)
                raise type(err)(
                    f"{err} The symbolic inputs have shapes {known}; unknown sizes were "
                    f"tried as {fill}."
                ) from None
            results.append(y)
        first, second = results
        multi = isinstance(first, (list, tuple))
        firsts, seconds = (list(first), list(second)) if multi else ([first], [second])
        self.output_dtype = str(xp.asarray(value_of(firsts[0])).dtype)
        out = [
            tuple(
                d if d == e else None for d, e in zip(xp.shape(value_of(a)), xp.shape(value_of(b)))
            )
            for a, b in zip(firsts, seconds)
        ]
        return out if multi else out[0]

    def get_config(self):
        return {
            **super().get_config(),
            "function": self.function,
            "arguments": self.arguments,
            "keyword_arguments": self.keyword_arguments,
        }


def _count_tensors(encoded) -> int:
    if isinstance(encoded, list):
        return sum(_count_tensors(v) for v in encoded)
    if isinstance(encoded, dict):
        if "__tensor__" in encoded:
            return 1
        return sum(_count_tensors(v) for v in encoded.values())
    return 0


def symbolic_op_call(op, args, kwargs):
    """What an op returns when an argument is symbolic: the output tensor(s) of a new
    :class:`OpLayer` called on the symbolic arguments."""
    tensors: list = []
    arguments = _encode(list(args), tensors)
    keyword_arguments = {k: _encode(v, tensors) for k, v in kwargs.items()}
    layer = OpLayer(op.op_name, arguments, keyword_arguments)
    return layer(tensors if len(tensors) > 1 else tensors[0])


def _not_iterable(self):
    raise TypeError(
        "A symbolic KerasTensor cannot be iterated over: its values do not exist until the "
        "model runs. Slice it (x[:, 0]) or use keras.ops.split / keras.ops.unstack."
    )


register_symbolic(KerasTensor, symbolic_op_call)


def _not_a_boolean(self):
    raise TypeError(
        "A symbolic KerasTensor cannot be used as a boolean: its values do not exist until "
        "the model runs. Use keras.ops.where(condition, x1, x2) to choose between tensors."
    )


install_operators(KerasTensor, OPERATORS)
KerasTensor.__ne__ = ops.not_equal  # as in Keras; == stays identity, so tensors stay hashable
KerasTensor.__iter__ = _not_iterable
KerasTensor.__bool__ = _not_a_boolean
KerasTensor.__array_ufunc__ = None  # ndarray + KerasTensor -> KerasTensor.__radd__

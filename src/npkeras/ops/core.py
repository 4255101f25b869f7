"""What every ``keras.ops`` function shares: reading operands, Keras-style errors, and the
one dispatcher that sends calls on symbolic functional tensors to the graph builder.

Each public op is defined as ``@keras_op def name(...)``. The wrapper does two cheap
things around the op's own code:

- when an argument is a symbolic tensor (``keras.Input`` and what layers make from it),
  the call is handed to the handler that :mod:`npkeras.layers.op_layer` registers, which
  records the op as a graph node instead of computing it (ops sit below layers, so the
  layers package plugs itself in rather than being imported here);
- NumPy's errors (shapes that do not broadcast, an axis out of range) come back as
  Keras-style errors that name the op, the shapes received and the fix.
"""

from __future__ import annotations

import functools
import re

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import Tensor, value_of
from npkeras.ops.variable import Variable

#: the symbolic tensor class and the function that turns an op call on it into a graph
#: node; both set by :func:`register_symbolic` (npkeras.layers.op_layer)
_symbolic = {"type": None, "handler": None}
#: argument types that are never symbolic and hold nothing symbolic: skipped at once
_PLAIN = frozenset({xp.ndarray, int, float, bool, str, type(None), Tensor})


def register_symbolic(tensor_type, handler) -> None:
    """Route op calls whose arguments include a ``tensor_type`` to ``handler(op, args,
    kwargs)``."""
    _symbolic["type"], _symbolic["handler"] = tensor_type, handler


def _has_symbolic(values, kind) -> bool:
    for a in values:
        if type(a) in _PLAIN:  # arrays and numbers, the usual arguments: one set lookup
            continue
        if isinstance(a, kind):
            return True
        if type(a) in (list, tuple) or type(a) is dict:
            for b in a.values() if type(a) is dict else a:
                if isinstance(b, kind):
                    return True
    return False


#: how many ops are running inside each other (NumPy errors are phrased by the outermost)
_depth = [0]


class OpError(Exception):
    """Marks an error already phrased by an op, so an enclosing op passes it on."""


class OpValueError(OpError, ValueError):
    pass


class OpAxisError(OpError, ValueError, IndexError):
    pass


class OpIndexError(OpError, IndexError):
    pass


def _shape_text(x) -> str:
    value = value_of(x)
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float)):
        return "[" + ", ".join(_shape_text(v) for v in value) + "]"
    try:
        return str(tuple(xp.shape(value)))
    except (TypeError, ValueError):
        return type(x).__name__


def op_error(name: str, args, err: Exception) -> Exception:
    """A Keras-style error for NumPy's ``err`` raised inside ``ops.<name>(*args)``."""
    arrays = [a for a in args if not isinstance(a, (str, type(None), bool))]
    shapes = ", ".join(_shape_text(a) for a in arrays if _is_arrayish(a))
    text = str(err)
    if "broadcast" in text:
        return OpValueError(
            f"ops.{name}: the inputs' shapes {shapes} cannot be broadcast together. Each "
            "axis, aligned from the right, must have equal sizes or size 1; reshape or "
            "expand_dims an operand so the shapes line up."
        )
    axis = re.search(r"axis (-?\d+) is out of bounds for array of dimension (\d+)", text)
    if axis is not None:
        bad, rank = int(axis.group(1)), int(axis.group(2))
        return OpAxisError(
            f"ops.{name}: axis {bad} is out of range for an input of rank {rank} (shapes "
            f"received: {shapes}). Use an axis in [{-rank}, {rank})."
        )
    if "mismatch in its core dimension" in text or "not aligned" in text:
        return OpValueError(
            f"ops.{name}: the inputs' shapes {shapes} do not fit a matrix product: the last "
            "axis of the first must equal the second-to-last axis of the second (the only "
            "axis of a vector). Transpose or reshape an operand."
        )
    if isinstance(err, IndexError):
        return OpIndexError(f"ops.{name}: {text} (shapes received: {shapes}).")
    return OpValueError(f"ops.{name}: {text} (shapes received: {shapes}).")


def _is_arrayish(a) -> bool:
    return isinstance(a, (Tensor, Variable, xp.ndarray, list, tuple, int, float)) or hasattr(
        a, "shape"
    )


def keras_op(fn=None, *, symbolic: bool = True):
    """Make ``fn`` a public op: symbolic dispatch and Keras-style errors (see the module
    docstring). ``symbolic=False`` for ops that answer from a symbolic tensor's static
    information (``shape``, ``ndim``)."""
    if fn is None:
        return functools.partial(keras_op, symbolic=symbolic)
    name = fn.__name__

    @functools.wraps(fn)
    def op(*args, **kwargs):
        kind = _symbolic["type"]
        if (
            symbolic
            and kind is not None
            and (_has_symbolic(args, kind) or (kwargs and _has_symbolic(kwargs.values(), kind)))
        ):
            return _symbolic["handler"](op, args, kwargs)
        _depth[0] += 1
        try:
            return fn(*args, **kwargs)
        except OpError:
            raise
        except (ValueError, IndexError) as err:
            if _depth[0] > 1:  # an op inside another: the op the user called explains it
                raise
            raise op_error(name, list(args) + list(kwargs.values()), err) from None
        finally:
            _depth[0] -= 1

    op.op_name = name
    return op


# -- reading operands ------------------------------------------------------------------
def _array(value):
    """``value`` as an array; Python lists of floats become ``floatx`` (as Keras converts
    them), arrays keep their type."""
    if isinstance(value, (list, tuple)):
        array = xp.asarray(value)
        return array.astype(backend.floatx()) if array.dtype.kind == "f" else array
    return xp.asarray(value)


def _v(x):
    """The operand as an array (numbers stay numbers, so NumPy keeps the array's type)."""
    value = value_of(x)
    if isinstance(value, (int, float, bool)):
        return value
    return _array(value)


def _a(x):
    """The operand as an array, always."""
    return _array(value_of(x))


def _float(x):
    """The operand as a float array: integers and booleans become ``floatx`` (Keras's
    promotion for ops whose result is real, such as ``sqrt`` or ``mean``)."""
    value = _array(value_of(x))
    if value.dtype.kind in "biu":
        return value.astype(backend.floatx())
    return value


def _shape(x):
    return xp.shape(x)


def check_axis(name: str, axis: int, rank: int) -> int:
    """``axis`` as a non-negative index into a rank-``rank`` input, or a Keras error."""
    if not -rank <= axis < rank:
        raise OpAxisError(
            f"ops.{name}: axis {axis} is out of range for an input of rank {rank}. Use an "
            f"axis in [{-rank}, {rank})."
        )
    return axis % rank


def axes_tuple(name: str, axis, rank: int) -> tuple:
    """Every reduced axis as a non-negative index (all of them for ``None``)."""
    if axis is None:
        return tuple(range(rank))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(check_axis(name, int(a), rank) for a in axis)


def scatter_add(shape, flat_index, values, dtype):
    """Zeros of ``shape`` with ``values`` added at the flat positions ``flat_index``
    (repeated positions add up). ``bincount`` does the sum in one pass; ``add.at`` is
    an order of magnitude slower."""
    size = 1
    for d in shape:
        size *= d
    total = xp.bincount(flat_index.reshape(-1), weights=values.reshape(-1), minlength=size)
    return total.astype(dtype, copy=False).reshape(shape)


def install_operators(cls, table: dict) -> None:
    """Give ``cls`` Python's operators (``+``, ``@``, ``[...]``, comparisons, ...) from
    ``table`` ({dunder name: op}; see ``npkeras.ops.numpy.OPERATORS``)."""
    for dunder, fn in table.items():
        setattr(cls, dunder, fn)

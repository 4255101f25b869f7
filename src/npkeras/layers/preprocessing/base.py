"""What preprocessing layers share: string and integer inputs, no gradient, ``adapt``
over arrays or batch iterables, and the one-hot / multi-hot / count encoding."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer
from npkeras.ops.tape import value_of

ENCODINGS = ("one_hot", "multi_hot", "count")


class PreprocessingLayer(Layer):
    """Base of layers that map raw features (strings, integers, floats) to model inputs.

    Inputs are NumPy arrays of any kind: strings (``str`` or ``object`` arrays) and
    integers pass unchanged, other values become the float type. These layers have no
    gradient: ``backward`` returns zeros (nothing upstream of them learns).
    """

    integer_inputs = True

    def _convert_input(self, value):
        array = xp.asarray(value_of(value))
        if array.dtype.kind in "iubUSO":
            return array
        return backend.as_float_array(array, "inputs", dtype=self.dtype)

    def check_input_shape(self, shape) -> None:
        """Any shape is accepted: these layers work element-wise or row-wise."""

    def forward(self, x, training=False):
        self.cache = xp.shape(x)
        return self.transform(x)

    def transform(self, x):
        raise NotImplementedError

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        return xp.zeros(self.cache, backend.floatx())

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the layer's state (vocabulary, bins...) from ``data``: an array, a list,
        or an iterable of batches (a PyDataset, a generator); ``steps`` limits the
        number of batches read from an iterable."""
        self.reset_adapt_state()
        for batch in _batches(data, batch_size, steps):
            self.update_adapt_state(batch)
        self.finalize_adapt_state()

    def reset_adapt_state(self):
        raise NotImplementedError(f"{type(self).__name__} has nothing to adapt.")

    def update_adapt_state(self, batch):
        raise NotImplementedError

    def finalize_adapt_state(self):
        raise NotImplementedError


def _batches(data, batch_size, steps):
    if isinstance(data, (list, tuple)) or hasattr(data, "dtype") or hasattr(data, "to_numpy"):
        array = xp.asarray(data.to_numpy() if hasattr(data, "to_numpy") else value_of(data))
        size = len(array) if batch_size is None or array.ndim == 0 else batch_size
        for start in range(0, max(len(array) if array.ndim else 1, 1), max(size, 1)):
            yield array[start : start + size] if array.ndim else array
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"adapt() takes an array, a list or an iterable of batches; "
            f"received {type(data).__name__}."
        )
    for step, batch in enumerate(data):
        if steps is not None and step >= steps:
            return
        if isinstance(batch, tuple):  # (x, y) batches: adapt on the features
            batch = batch[0]
        yield xp.asarray(value_of(batch))


def integer_array(x, owner):
    """``x`` as int64, refusing fractional values (floats holding integers are fine)."""
    x = xp.asarray(x)
    if x.dtype.kind in "iub":
        return x.astype("int64", copy=False)
    if x.dtype.kind == "f":
        rounded = xp.round(x)
        if x.size and not bool((rounded == x).all()):
            raise ValueError(f"{owner} expects integer inputs; received fractional values.")
        return rounded.astype("int64")
    raise TypeError(f"{owner} expects integer inputs; received dtype {x.dtype}.")


def encode(indices, output_mode, depth, count_weights=None, dtype=None):
    """One-hot, multi-hot or count encoding of integer ``indices`` into ``depth`` bins.

    Negative indices (dropped mask tokens) count for nothing. ``one_hot`` adds an axis
    (a trailing axis of size 1 is replaced); ``multi_hot``/``count`` reduce the last axis,
    a rank-1 input being one sample, as in Keras.
    """
    dtype = dtype or backend.floatx()
    indices = xp.asarray(indices)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        out = xp.zeros(indices.shape + (depth,), dtype)
        valid = indices >= 0
        xp.put_along_axis(
            out, xp.where(valid, indices, 0)[..., None], valid[..., None].astype(dtype), axis=-1
        )
        return out
    if indices.ndim > 2:
        raise ValueError(
            f"When output_mode is not 'int', the inputs may have rank 2 at most; "
            f"received shape {indices.shape}. Reshape to (batch, tokens)."
        )
    single = indices.ndim <= 1
    rows = indices.reshape(1, -1) if single else indices
    weights = (
        None if count_weights is None else xp.asarray(count_weights, "float64").reshape(rows.shape)
    )
    valid = rows >= 0
    flat = (xp.arange(len(rows))[:, None] * depth + xp.where(valid, rows, 0))[valid]
    values = None if weights is None else weights[valid]
    counts = xp.bincount(flat, weights=values, minlength=len(rows) * depth).reshape(
        len(rows), depth
    )
    if output_mode == "multi_hot":
        counts = counts > 0
    out = counts.astype(dtype)
    return out[0] if single else out


def check_output_mode(owner, output_mode, allowed):
    if output_mode not in allowed:
        raise ValueError(
            f"Unknown `output_mode` for {owner}: expected one of "
            f"{', '.join(repr(m) for m in allowed)}. Received: output_mode={output_mode!r}"
        )
    return output_mode


def encoded_shape(input_shape, output_mode, depth):
    """Output shape of :func:`encode` for ``input_shape`` (batch axis first)."""
    input_shape = tuple(input_shape)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    if len(input_shape) <= 1:
        return input_shape + (depth,) if input_shape else (depth,)
    return input_shape[:-1] + (depth,)

"""Layers that merge a list of inputs: Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate and Dot, and Keras's lowercase functions that build and call them
(``keras.layers.add([a, b])``). Each takes a list of arrays and its backward returns a
list (Dot, written with ``keras.ops``, gets its backward from the tape)."""

from __future__ import annotations

from npkeras import ops
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


class _Merge(Layer):
    """Elementwise merge of inputs with the same shape."""

    min_inputs = 2

    def _check_shapes(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < self.min_inputs:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) must be called on a list of at least "
                f"{self.min_inputs} inputs; received {shapes!r}."
            )
        first = tuple(shapes[0][1:])
        for s in shapes[1:]:
            if tuple(s[1:]) != first:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) needs inputs of one shape; "
                    f"received shapes {[tuple(s) for s in shapes]}."
                )

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def check_input_shape(self, shape):
        return None

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        return tuple(input_shape[0])


class Add(_Merge):
    """Sum of the inputs.

    >>> import numpy as np
    >>> Add()([np.ones((1, 2)), np.ones((1, 2))]).tolist()
    [[2.0, 2.0]]
    """

    def forward(self, xs, training=False):
        self.cache = len(xs)
        out = xs[0] + xs[1] if len(xs) > 1 else xs[0].copy()  # the first sum: no copy first
        for x in xs[2:]:
            out += x
        return out

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return [dy] * self.cache


class Subtract(_Merge):
    """First input minus the second."""

    def _check_shapes(self, shapes):
        super()._check_shapes(shapes)
        if len(shapes) != 2:
            raise ValueError(
                f"Layer '{self.name}' (Subtract) takes exactly 2 inputs; received {len(shapes)}."
            )

    def forward(self, xs, training=False):
        return xs[0] - xs[1]

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return [dy, -dy]


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def forward(self, xs, training=False):
        self.cache = xs
        out = xs[0].copy()
        for x in xs[1:]:
            out *= x
        return out

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        xs = self.cache
        grads = []
        for i in range(len(xs)):
            g = dy.copy()
            for j, x in enumerate(xs):
                if j != i:
                    g *= x
            grads.append(g)
        return grads


class Average(_Merge):
    """Elementwise mean of the inputs."""

    def forward(self, xs, training=False):
        self.cache = len(xs)
        out = xs[0].copy()
        for x in xs[1:]:
            out += x
        out /= len(xs)
        return out

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return [dy / self.cache] * self.cache


class _Extremum(_Merge):
    """Elementwise max or min; the gradient goes to the first input that attains it."""

    reduce = None

    def forward(self, xs, training=False):
        stacked = xp.stack(xs)
        winner = type(self).reduce(stacked, axis=0)
        self.cache = (winner, len(xs))
        return xp.take_along_axis(stacked, winner[None], axis=0)[0]

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        winner, n = self.cache
        return [dy * (winner == i) for i in range(n)]


class Maximum(_Extremum):
    """Elementwise maximum of the inputs."""

    reduce = staticmethod(xp.argmax)


class Minimum(_Extremum):
    """Elementwise minimum of the inputs."""

    reduce = staticmethod(xp.argmin)


class Concatenate(Layer):
    """Joins inputs along ``axis`` (default the last).

    >>> import numpy as np
    >>> Concatenate()([np.zeros((1, 2)), np.ones((1, 1))]).tolist()
    [[0.0, 0.0, 1.0]]
    """

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) must be called on a list of at least 2 inputs; "
                f"received {input_shape!r}."
            )
        rank = len(input_shape[0])
        axis = self.axis % rank
        out = list(input_shape[0])
        for s in input_shape[1:]:
            if len(s) != rank or any(
                a != b for i, (a, b) in enumerate(zip(s, input_shape[0])) if i not in (0, axis)
            ):
                raise ValueError(
                    f"Layer '{self.name}' (Concatenate) needs inputs that match except on axis "
                    f"{self.axis}; received shapes {[tuple(s) for s in input_shape]}."
                )
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def check_input_shape(self, shape):
        return None

    def forward(self, xs, training=False):
        self.cache = [x.shape[self.axis] for x in xs]
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        bounds = xp.cumsum(self.cache)[:-1]
        return xp.split(dy, bounds, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """Dot product of two batches of tensors along ``axes`` (Keras's ``batch_dot``).

    Args:
        axes: the axis of each input to contract (an int for both, or a pair); axis 0
            is the batch axis, negative axes count from the end.
        normalize: L2-normalise both inputs along ``axes`` first, so the result is the
            cosine similarity.

    Input shape: a list of two tensors, e.g. ``(batch, n)`` and ``(batch, n)``.
    Output shape: the first input's axes without ``axes[0]``, then the second's after the
    batch axis without ``axes[1]``; ``(batch, 1)`` when nothing else remains.

    >>> import numpy as np
    >>> Dot(axes=1)([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).tolist()
    [[11.0]]
    """

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, int) for a in pair):
            raise ValueError(
                f"Received an invalid value for `axes` of Dot layer '{self.name}', expected "
                f"an int or a pair of ints. Received: axes={axes!r}"
            )
        self.axes = axes if isinstance(axes, int) else list(pair)
        self.normalize = bool(normalize)

    def _resolved_axes(self, shapes):
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return [a % len(s) for a, s in zip(pair, shapes)]

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' (Dot) must be called on a list of 2 inputs; received "
                f"{input_shape!r}."
            )
        first, second = (tuple(s) for s in input_shape)
        a1, a2 = self._resolved_axes([first, second])
        if first[a1] is not None and second[a2] is not None and first[a1] != second[a2]:
            raise ValueError(
                f"Layer '{self.name}' (Dot) contracts axis {a1} of shape {first} with axis "
                f"{a2} of shape {second}, whose sizes differ ({first[a1]} != {second[a2]}). "
                "Choose `axes` whose sizes match."
            )
        out = (
            first[:a1]
            + first[a1 + 1 :]
            + tuple(d for i, d in enumerate(second) if i not in (0, a2))
        )
        return out if len(out) > 1 else out + (1,)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def check_input_shape(self, shape):
        return None

    def call(self, inputs):
        x, y = inputs
        a1, a2 = self._resolved_axes([x.shape, y.shape])
        if self.normalize:
            x, y = ops.normalize(x, axis=a1), ops.normalize(y, axis=a2)
        x, y = ops.moveaxis(x, a1, -1), ops.moveaxis(y, a2, 1)
        batch, contracted = x.shape[0], x.shape[-1]
        # (b, m, c) @ (b, c, n) -> (b, m, n), then the free axes back in place
        out = ops.matmul(
            ops.reshape(x, (batch, -1, contracted)), ops.reshape(y, (batch, contracted, -1))
        )
        shape = (batch,) + tuple(x.shape[1:-1]) + tuple(y.shape[2:])
        return ops.reshape(out, shape if len(shape) > 1 else shape + (1,))

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _merge_function(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = f"{doc} of a list of inputs: ``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add = _merge_function(Add, "The sum")
subtract = _merge_function(Subtract, "The difference")
multiply = _merge_function(Multiply, "The elementwise product")
average = _merge_function(Average, "The average")
maximum = _merge_function(Maximum, "The elementwise maximum")
minimum = _merge_function(Minimum, "The elementwise minimum")


def concatenate(inputs, axis: int = -1, **kwargs):
    """The inputs joined along ``axis``: ``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize: bool = False, **kwargs):
    """The batch dot product of two inputs: ``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)

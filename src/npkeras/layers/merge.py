"""Layers that merge a list of inputs: Add, Subtract, Multiply, Average, Maximum,
Minimum and Concatenate. Each takes a list of arrays and its backward returns a list."""

from __future__ import annotations

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
        out = xs[0].copy()
        for x in xs[1:]:
            out += x
        return out

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return [dy] * self.cache


class Subtract(_Merge):
    """First input minus the second."""

    def _check_shapes(self, shapes):
        super()._check_shapes(shapes)
        if len(shapes) != 2:
            raise ValueError(f"Layer '{self.name}' (Subtract) takes exactly 2 inputs; received {len(shapes)}.")

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
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, input_shape[0]))
                                     if i not in (0, axis)):
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

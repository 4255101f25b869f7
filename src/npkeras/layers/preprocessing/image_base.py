"""What the image preprocessing layers share: data formats and unbatched images, their
random generator, the factor arguments, and a vectorised sampler (per-image sampling
grids gathered with fancy indexing, with its adjoint for the backward pass)."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def check_choice(owner, name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Received an invalid value for `{name}` of {owner}, expected one of "
            f"{choices}. Received: {name}={value!r}"
        )
    return value


def factor_range(owner, name, factor, symmetric=True, low=None, ordered=True):
    """``(lower, upper)`` from a float ``f`` (``(-f, f)``, or ``(f, f)`` when not
    ``symmetric``) or a pair; each bound at least ``low`` when given, ``lower <= upper``
    when ``ordered``."""
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise ValueError(
                f"Received an invalid value for `{name}` of {owner}, expected a float or a "
                f"tuple of two floats. Received: {name}={factor!r}"
            )
        lower, upper = float(factor[0]), float(factor[1])
    else:
        lower, upper = (
            (-abs(float(factor)), abs(float(factor)))
            if symmetric
            else (float(factor), float(factor))
        )
    if (ordered and lower > upper) or (low is not None and min(lower, upper) < low):
        raise ValueError(
            f"Received an invalid value for `{name}` of {owner}, expected "
            + (f"bounds of at least {low}, " if low is not None else "")
            + ("with lower <= upper. " if ordered else "")
            + f"Received: {name}={factor!r}"
        )
    return lower, upper


class ImageLayer(Layer):
    """Base of the image layers: ``forward`` hands :meth:`transform` a channels-last
    batch ``(batch, height, width, channels)`` whatever the ``data_format`` and rank, and
    ``backward`` hands :meth:`transform_backward` its gradient the same way."""

    #: whether the constructor takes ``seed`` (the random layers)
    _takes_seed = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_choice(
            f"{type(self).__name__} layer '{self.name}'",
            "data_format",
            data_format or "channels_last",
            ("channels_last", "channels_first"),
        )
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    @property
    def _owner(self):
        return f"{type(self).__name__} layer '{self.name}'"

    def rng(self):
        """The layer's own generator when seeded, else the backend's (set_random_seed)."""
        return self._rng if self._rng is not None else backend.rng()

    def _to_last(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{self._owner} expects images of rank 3 (unbatched) or 4 (batched); "
                f"received shape {tuple(x.shape)}."
            )
        single = x.ndim == 3
        if single:
            x = x[None]
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        return x, single

    def _from_last(self, y, single):
        if self.data_format == "channels_first":
            y = y.transpose(0, 3, 1, 2)
        return y[0] if single else y

    def _spatial(self, shape):
        """(height, width) of a shape in this layer's data format."""
        if self.data_format == "channels_first":
            return shape[-2], shape[-1]
        return shape[-3], shape[-2]

    def forward(self, x, training=False):
        images, single = self._to_last(x)
        out, state = self.transform(images, bool(training))
        self.cache = (state, images.shape, single)
        return self._from_last(out, single)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        state, shape, single = self.cache
        if not ctx.need_input_grad:
            return None
        grads, _ = self._to_last(dy)
        return self._from_last(self.transform_backward(grads, state, shape), single)

    def transform(self, images, training):
        """``(output, state)``; ``state`` is what :meth:`transform_backward` needs (None:
        the output is the input)."""
        raise NotImplementedError

    def transform_backward(self, dy, state, input_shape):
        return dy if state is None else state(dy)

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        if self._takes_seed:
            config["seed"] = self.seed
        return config


# -- sampling ---------------------------------------------------------------------------
def _fold(index, size, fill_mode):
    """Integer coordinates mapped inside ``[0, size)`` as ``fill_mode`` extends the image;
    returns (index, inside) where ``inside`` is False for constant-filled taps."""
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        period = xp.mod(index, 2 * size)
        return xp.where(period >= size, 2 * size - 1 - period, period), None
    if fill_mode == "wrap":  # a b c d | a b c d | a b c d
        return xp.mod(index, size), None
    inside = (index >= 0) & (index < size) if fill_mode == "constant" else None
    return xp.clip(index, 0, size - 1), inside  # nearest: a a | a b c d | d d


class Sampled:
    """``output[b, i, j] = sum_k weight_k * image[b, y_k, x_k]`` (constant fill for taps
    outside the image): the gather that samples images at real coordinates ``src_y,
    src_x`` (each ``(batch, out_h, out_w)``), and its adjoint (a scatter-add)."""

    def __init__(self, images, src_y, src_x, interpolation, fill_mode, fill_value):
        batch, height, width, channels = images.shape
        self.input_shape = images.shape
        base = (xp.arange(batch) * height)[:, None, None]
        if interpolation == "nearest":
            taps = [
                (
                    xp.floor(src_y + 0.5).astype(xp.int64),
                    xp.floor(src_x + 0.5).astype(xp.int64),
                    None,
                )
            ]
        else:
            y0, x0 = xp.floor(src_y), xp.floor(src_x)
            fy, fx = src_y - y0, src_x - x0
            y0, x0 = y0.astype(xp.int64), x0.astype(xp.int64)
            taps = [
                (y0, x0, (1 - fy) * (1 - fx)),
                (y0, x0 + 1, (1 - fy) * fx),
                (y0 + 1, x0, fy * (1 - fx)),
                (y0 + 1, x0 + 1, fy * fx),
            ]
        flat = images.reshape(-1, channels)
        out = xp.zeros(src_y.shape + (channels,), images.dtype)
        self.taps = []
        for ty, tx, weight in taps:
            ty, inside_y = _fold(ty, height, fill_mode)
            tx, inside_x = _fold(tx, width, fill_mode)
            index = (base + ty) * width + tx
            weight = (
                xp.ones(src_y.shape, images.dtype)
                if weight is None
                else weight.astype(images.dtype)
            )
            if inside_y is not None:
                inside = inside_y & inside_x
                if fill_value:
                    out += (weight * ~inside * fill_value)[..., None]
                weight = weight * inside
            out += flat[index] * weight[..., None]
            self.taps.append((index, weight))
        self.output = out

    def __call__(self, dy):
        """dL/d(images) from dL/d(output): each tap's weighted gradient added back."""
        batch, height, width, channels = self.input_shape
        size = batch * height * width * channels
        offsets = xp.arange(channels)
        total = xp.zeros(size)
        for index, weight in self.taps:
            slots = (index[..., None] * channels + offsets).ravel()
            total += xp.bincount(slots, weights=(dy * weight[..., None]).ravel(), minlength=size)
        return total.reshape(self.input_shape).astype(dy.dtype)


def output_grid(batch, height, width, dtype="float64"):
    """Row and column coordinates of every output pixel, each ``(batch, height, width)``."""
    rows = xp.broadcast_to(xp.arange(height, dtype=dtype)[None, :, None], (batch, height, width))
    cols = xp.broadcast_to(xp.arange(width, dtype=dtype)[None, None, :], (batch, height, width))
    return rows, cols

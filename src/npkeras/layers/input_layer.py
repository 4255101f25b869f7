"""``Input`` and ``InputLayer``: where a functional model's graph starts."""

from __future__ import annotations

from npkeras import backend
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer
from npkeras.layers.node import KerasTensor, Node
from npkeras.ops.tape import value_of


class InputLayer(Layer):
    """The entry point of a model: holds the per-sample ``shape`` and passes data through.

    >>> InputLayer(shape=(3,)).output.shape
    (None, 3)
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=False,
        name=None,
        input_shape=None,
        batch_shape=None,
        input_tensor=None,
        **kwargs,
    ):
        if batch_shape is not None and shape is None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer needs a `shape` (per-sample, without the batch axis).")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if any(d is not None and (not isinstance(d, int) or d <= 0) for d in shape):
            raise ValueError(
                f"Every dimension of an Input shape must be a positive integer or None; "
                f"received shape={shape}."
            )
        if sparse:
            raise ValueError("npkeras has no sparse tensors: pass dense arrays (sparse=False).")
        super().__init__(name=name, **kwargs)
        self.shape = shape
        self.batch_size = batch_size
        self.input_dtype = str(dtype) if dtype is not None else backend.floatx()
        self.integer_inputs = self.input_dtype.startswith(("int", "uint", "bool"))
        self.input_shape_spec = (batch_size,) + shape
        self.built = True
        node = Node(self, [], multi_input=False)
        node.outputs = [KerasTensor(self.input_shape_spec, node=node, name=self.name,
                                    dtype=self.input_dtype)]
        self._inbound_nodes.append(node)

    def _convert_input(self, value):
        if self.input_dtype == "string":  # text stays text, on the host
            return backend.host_xp.asarray(value_of(value))
        return super()._convert_input(value)

    def forward(self, x, training=False):
        return x

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy

    def get_config(self):
        config = {"name": self.name, "shape": list(self.shape), "batch_size": self.batch_size}
        if self.input_dtype != backend.floatx():
            config["dtype"] = self.input_dtype
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "batch_shape" in config and "shape" not in config:
            config["shape"] = tuple(config.pop("batch_shape")[1:])
        config["shape"] = tuple(config["shape"])
        return cls(**config)


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
) -> KerasTensor:
    """A symbolic input of per-sample ``shape`` for the functional API.

    >>> import npkeras as keras
    >>> keras.Input(shape=(4,)).shape
    (None, 4)
    >>> keras.Input(shape=(5,), dtype="int32").dtype
    'int32'
    """
    return InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=bool(sparse),
        batch_shape=batch_shape,
        name=name,
    ).output

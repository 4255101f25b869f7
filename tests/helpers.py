"""check_layer: the shared battery every layer test runs (Keras's run_layer_test idea)."""

import io
import json

import numpy as np

from npkeras import backend
from npkeras.layers import layer_classes
from npkeras.utils.gradcheck import check_layer_gradients

TOLERANCE = 1e-6


def check_layer(
    make_layer, input_shape, expected_output_shape, expected_params=None, inputs=None, seed=0
):
    """Output shape, parameter count, config round-trip and float64 finite-difference
    gradients of the input and every weight, for batch sizes 1 and 3."""
    backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(seed)
        for batch in (1, 3):
            layer = make_layer()
            if inputs is not None:
                x = inputs(batch, rng)
            elif isinstance(input_shape, list):
                x = [rng.standard_normal((batch,) + tuple(s)) for s in input_shape]
            else:
                x = rng.standard_normal((batch,) + tuple(input_shape))
            y = layer(x)
            assert y.shape == (batch,) + tuple(expected_output_shape), y.shape
            if expected_params is not None:
                assert layer.count_params() == expected_params
            errors = check_layer_gradients(layer, x, seed=seed)
            for key, err in errors.items():
                assert err < TOLERANCE, f"{type(layer).__name__} gradient of {key}: {err:.3g}"
            # config round-trip through JSON gives the same layer, same outputs with same weights
            config = json.loads(json.dumps(layer.get_config()))
            twin = layer_classes()[type(layer).__name__].from_config(config)
            twin(x)
            twin.set_weights(layer.get_weights())
            np.testing.assert_array_equal(twin.forward(x), layer.forward(x))
        return layer
    finally:
        backend.set_floatx("float32")


def captured_print():
    buf = io.StringIO()
    return buf, (lambda line="": buf.write(str(line) + "\n"))


def _by_name(layer, store):
    """``{name: array}`` over a layer and the layers inside it; a name that two sublayers
    share is prefixed with the sublayer's name."""
    entries = [(sub, name) for sub in layer._flatten_layers() for name in getattr(sub, store)]
    names = [name for _, name in entries]
    return {
        (name if names.count(name) == 1 else f"{sub.name}/{name}"): getattr(sub, store)[name]
        for sub, name in entries
    }


def all_params(layer) -> dict:
    return _by_name(layer, "params")


def all_grads(layer) -> dict:
    return _by_name(layer, "grads")

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, layers
from npkeras.layers.base import BackwardContext
from tests.helpers import check_layer

WINDOWED = [layers.MaxPooling2D, layers.AveragePooling2D]


@pytest.mark.parametrize("cls", WINDOWED)
@pytest.mark.parametrize(
    "kwargs, out_shape",
    [
        ({}, (3, 2, 2)),
        ({"pool_size": 3, "strides": 1}, (5, 3, 2)),
        ({"pool_size": 3, "strides": 2, "padding": "same"}, (4, 3, 2)),
        ({"pool_size": (2, 3), "strides": (1, 2)}, (6, 2, 2)),
        ({"padding": "same"}, (4, 3, 2)),
        ({"data_format": "channels_first"}, (2, 3, 2)),
    ],
)
def test_pooling2d_gradients(cls, kwargs, out_shape):
    # inputs drawn from a continuous distribution: no ties, so the max is differentiable
    shape = (2, 7, 5) if kwargs.get("data_format") == "channels_first" else (7, 5, 2)
    check_layer(lambda: cls(**kwargs), shape, out_shape, expected_params=0)


@pytest.mark.parametrize(
    "cls, shape, kwargs, out_shape",
    [
        (layers.MaxPooling1D, (7, 2), {"pool_size": 3, "strides": 2, "padding": "same"}, (4, 2)),
        (
            layers.AveragePooling1D,
            (7, 2),
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (4, 2),
        ),
        (layers.AveragePooling1D, (2, 7), {"data_format": "channels_first"}, (2, 3)),
        (layers.MaxPooling3D, (3, 4, 5, 1), {"padding": "same"}, (2, 2, 3, 1)),
        (
            layers.AveragePooling3D,
            (3, 4, 5, 1),
            {"pool_size": (1, 2, 3), "padding": "same"},
            (3, 2, 2, 1),
        ),
    ],
)
def test_pooling_1d_3d_gradients(cls, shape, kwargs, out_shape):
    check_layer(lambda: cls(**kwargs), shape, out_shape, expected_params=0)


@pytest.mark.parametrize(
    "cls",
    [
        layers.GlobalAveragePooling1D,
        layers.GlobalMaxPooling1D,
        layers.GlobalAveragePooling2D,
        layers.GlobalMaxPooling2D,
        layers.GlobalAveragePooling3D,
        layers.GlobalMaxPooling3D,
    ],
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_gradients(cls, data_format, keepdims):
    rank = cls.rank
    shape = (3,) + (4, 3, 2)[:rank] if data_format == "channels_first" else (4, 3, 2)[:rank] + (3,)
    if not keepdims:
        out_shape = (3,)
    else:
        out_shape = (3,) + (1,) * rank if data_format == "channels_first" else (1,) * rank + (3,)
    check_layer(lambda: cls(data_format=data_format, keepdims=keepdims), shape, out_shape)


def test_max_pooling_gives_ties_to_the_first_maximum():
    x = np.ones((1, 4, 4, 1))
    # non-overlapping windows: the top-left input of each window takes the gradient
    layer = layers.MaxPooling2D()
    layer(x)
    expected = np.zeros((4, 4))
    expected[::2, ::2] = [[1.0, 2.0], [3.0, 4.0]]
    dx = layer.backward(np.arange(1.0, 5.0).reshape(1, 2, 2, 1))
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)
    # overlapping 3x3 windows at stride 1: each window's first position, gradients added
    layer = layers.MaxPooling2D(3, strides=1)
    layer(x)
    dx = layer.backward(np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 1, 0, 0], [1, 1, 0, 0], [0] * 4, [0] * 4])
    # a tie after a larger value: the later equal value does not take over
    x = np.array([[[[1.0], [3.0]], [[3.0], [2.0]]]])
    layer = layers.MaxPooling2D()
    layer(x)
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_global_max_pooling_gives_ties_to_the_first_maximum():
    layer = layers.GlobalMaxPooling1D()
    layer(np.array([[[1.0], [5.0], [5.0]]]))
    np.testing.assert_array_equal(layer.backward(np.array([[2.0]]))[0, :, 0], [0.0, 2.0, 0.0])


def test_same_average_pooling_divides_by_the_real_inputs_as_keras():
    # Keras's AveragePooling1D docstring: [1, 2, 3, 4, 5], pool 2, stride 1, 'same'
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    y = layers.AveragePooling1D(2, strides=1, padding="same")(x)
    np.testing.assert_allclose(y[0, :, 0], [1.5, 2.5, 3.5, 4.5, 5.0])
    # 2-D, 3x3 'same' windows at stride 1: corners average 4 inputs, edges 6, inside 9
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = layers.AveragePooling2D(3, strides=1, padding="same")(x)[0, :, :, 0]
    np.testing.assert_allclose(y[0, 0], (0 + 1 + 3 + 4) / 4)
    np.testing.assert_allclose(y[0, 1], (0 + 1 + 2 + 3 + 4 + 5) / 6)
    np.testing.assert_allclose(y[1, 1], 4.0)


def test_pooling_values_and_defaults():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    layer = layers.MaxPooling2D()
    assert layer.pool_size == (2, 2) and layer.strides == (2, 2) and layer.padding == "valid"
    assert layers.MaxPooling1D(3).strides == (3,)
    np.testing.assert_array_equal(layer(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(
        layers.AveragePooling2D()(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]]
    )
    assert layers.MaxPooling2D(padding="same")(np.zeros((1, 5, 5, 3))).shape == (1, 3, 3, 3)
    assert layers.GlobalAveragePooling2D().compute_output_shape((None, 4, 4, 3)) == (None, 3)
    assert layers.MaxPooling2D().compute_output_shape((None, None, 6, 3)) == (None, None, 3, 3)


def test_global_average_pooling_1d_uses_the_mask():
    x = np.array([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    mask = np.array([[True, True, False], [True, True, True]])
    layer = layers.GlobalAveragePooling1D()
    np.testing.assert_allclose(layer.forward(x, mask=mask), [[2.0], [4.0]])
    dx = layer.backward(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(dx[:, :, 0], [[0.5, 0.5, 0.0], [1.0, 1.0, 1.0]])
    assert layer.compute_mask(x, mask) is None


def test_pooling_skips_the_input_gradient_when_not_needed():
    layer = layers.MaxPooling2D()
    layer(np.zeros((1, 4, 4, 1)))
    assert layer.backward(np.zeros((1, 2, 2, 1)), BackwardContext(need_input_grad=False)) is None


def test_pooling_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"`pool_size` of MaxPooling2D .* Received: pool_size=0"):
        layers.MaxPooling2D(0)
    with pytest.raises(
        ValueError, match=r"`strides` of AveragePooling1D .* Received: strides=\(1, 1\)"
    ):
        layers.AveragePooling1D(2, strides=(1, 1))
    with pytest.raises(ValueError, match=r"`padding` .* Received: padding='causal'"):
        layers.MaxPooling1D(padding="causal")
    with pytest.raises(ValueError, match=r"`data_format` of GlobalMaxPooling2D"):
        layers.GlobalMaxPooling2D(data_format="NCHW")
    with pytest.raises(
        ValueError, match=r"expects inputs of rank 4, but received input shape \(2, 4, 4\)"
    ):
        layers.MaxPooling2D()(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"smaller than pool_size=\(3, 3\)"):
        layers.AveragePooling2D(3)(np.zeros((1, 2, 5, 1)))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling1D .* rank 3"):
        layers.GlobalAveragePooling1D().compute_output_shape((None, 4, 4, 3))


def test_keras_alias_names_are_the_same_classes():
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    assert layers.GlobalMaxPool3D is layers.GlobalMaxPooling3D
    assert layers.Convolution2D is layers.Conv2D
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


@pytest.mark.parametrize("cls", [layers.MaxPooling1D, layers.AveragePooling1D])
def test_same_pooling_builds_on_an_unknown_length(cls):
    # Keras: Input(shape=(None, 8)) -> MaxPooling1D(2, padding="same") is (None, None, 8);
    # the pads are found on each real input (5 steps: ceil(5 / 2) = 3 outputs)
    inputs = keras.Input(shape=(None, 2))
    outputs = cls(2, padding="same")(inputs)
    assert outputs.shape == (None, None, 2)
    model = keras.Model(inputs, outputs)
    x = np.arange(10.0, dtype="float32").reshape(1, 5, 2)
    expected = {layers.MaxPooling1D: [[2, 3], [6, 7], [8, 9]],
                layers.AveragePooling1D: [[1, 2], [5, 6], [8, 9]]}[cls]
    np.testing.assert_allclose(model.predict(x, verbose=0)[0], expected)
    assert model.predict(np.zeros((2, 8, 2), "float32"), verbose=0).shape == (2, 4, 2)


def test_same_pooling_2d_keeps_unknown_axes_unknown():
    layer = layers.MaxPooling2D(3, strides=2, padding="same")
    assert layer.compute_output_shape((None, None, 7, 3)) == (None, None, 4, 3)


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("kernels", [True, False])
def test_pooling_gradient_is_zero_on_the_rows_no_window_covers(cls, kernels, monkeypatch):
    if not kernels:
        monkeypatch.setattr(backend, "kernels", None)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 5, 3)).astype("float32")
    layer = cls(2)
    layer(x)
    layer.forward(x, training=True)
    dx = layer.backward(np.ones((2, 3, 2, 3), "float32"))
    assert not dx[:, 6].any() and not dx[:, :, 4].any()  # windows end at row 6, column 4
    assert dx[:, :6, :4].sum() == 2 * 3 * 6  # images x channels x windows, each passes its 1

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers
from npkeras.layers.base import BackwardContext
from tests.helpers import check_layer


# -- gradients, shapes, parameter counts and config round-trips ---------------------------
@pytest.mark.parametrize(
    "kwargs, out_shape",
    [
        ({}, (5, 3)),
        ({"padding": "same"}, (7, 3)),
        ({"padding": "causal", "dilation_rate": 2}, (7, 3)),
        ({"strides": 2, "padding": "same"}, (4, 3)),
        ({"strides": 3}, (2, 3)),
        ({"groups": 2, "filters": 4}, (5, 4)),
        ({"data_format": "channels_first"}, (3, 5)),
        ({"activation": "tanh", "use_bias": False}, (5, 3)),
    ],
)
def test_conv1d_gradients(kwargs, out_shape):
    kwargs = {"filters": 3, "kernel_size": 3, **kwargs}
    input_shape = (4, 7) if kwargs.get("data_format") == "channels_first" else (7, 4)
    groups = kwargs.get("groups", 1)
    params = 3 * (4 // groups) * kwargs["filters"] + (
        kwargs["filters"] if kwargs.get("use_bias", True) else 0
    )
    check_layer(lambda: layers.Conv1D(**kwargs), input_shape, out_shape, expected_params=params)


@pytest.mark.parametrize(
    "kwargs, out_shape",
    [
        ({}, (4, 3, 3)),
        ({"kernel_size": (2, 3), "strides": (2, 1)}, (3, 3, 3)),
        ({"padding": "same", "strides": 2}, (3, 3, 3)),
        ({"dilation_rate": (2, 1)}, (2, 3, 3)),
        ({"groups": 2, "filters": 2, "padding": "same"}, (6, 5, 2)),
        ({"data_format": "channels_first", "activation": "relu"}, (3, 4, 3)),
    ],
)
def test_conv2d_gradients(kwargs, out_shape):
    kwargs = {"filters": 3, "kernel_size": 3, **kwargs}
    shape = (2, 6, 5) if kwargs.get("data_format") == "channels_first" else (6, 5, 2)
    check_layer(lambda: layers.Conv2D(**kwargs), shape, out_shape)


def test_conv3d_gradients():
    check_layer(
        lambda: layers.Conv3D(2, (2, 3, 2), padding="same", strides=(1, 2, 1)),
        (3, 4, 2, 2),
        (3, 2, 2, 2),
        expected_params=2 * 3 * 2 * 2 * 2 + 2,
    )
    check_layer(
        lambda: layers.Conv3D(
            2, 2, dilation_rate=(1, 2, 1), groups=2, data_format="channels_first"
        ),
        (2, 3, 4, 3),
        (2, 2, 2, 2),
    )


@pytest.mark.parametrize(
    "make, shape, out_shape",
    [
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2), (5, 4, 2), (3, 2, 4)),
        (
            lambda: layers.DepthwiseConv2D(2, strides=2, padding="same", activation="tanh"),
            (5, 4, 3),
            (3, 2, 3),
        ),
        (lambda: layers.DepthwiseConv1D(3, padding="causal", dilation_rate=2), (6, 2), (6, 2)),
        (lambda: layers.SeparableConv2D(3, 2, depth_multiplier=2), (4, 4, 2), (3, 3, 3)),
        (
            lambda: layers.SeparableConv2D(2, 3, padding="same", data_format="channels_first"),
            (2, 4, 3),
            (2, 4, 3),
        ),
        (lambda: layers.SeparableConv1D(3, 3, strides=2), (7, 2), (3, 3)),
    ],
)
def test_depthwise_and_separable_gradients(make, shape, out_shape):
    check_layer(make, shape, out_shape)


@pytest.mark.parametrize(
    "kwargs, out_shape",
    [
        ({}, (6, 5, 3)),
        ({"strides": 2}, (9, 7, 3)),
        ({"strides": 2, "padding": "same"}, (8, 6, 3)),
        ({"strides": (2, 3), "output_padding": (1, 2)}, (10, 11, 3)),
        ({"strides": 3, "padding": "same", "output_padding": 1}, (11, 8, 3)),
        ({"dilation_rate": 2, "padding": "same"}, (4, 3, 3)),
        ({"kernel_size": 2, "strides": 3}, (12, 9, 3)),
        ({"data_format": "channels_first", "activation": "sigmoid"}, (3, 6, 5)),
    ],
)
def test_conv2d_transpose_gradients(kwargs, out_shape):
    kwargs = {"filters": 3, "kernel_size": 3, **kwargs}
    shape = (2, 4, 3) if kwargs.get("data_format") == "channels_first" else (4, 3, 2)
    kernel_size = kwargs["kernel_size"]
    check_layer(
        lambda: layers.Conv2DTranspose(**kwargs),
        shape,
        out_shape,
        expected_params=kernel_size * kernel_size * 3 * 2 + 3,
    )


def test_conv1d_and_conv3d_transpose_gradients():
    check_layer(lambda: layers.Conv1DTranspose(2, 3, strides=2, padding="same"), (4, 3), (8, 2))
    check_layer(lambda: layers.Conv3DTranspose(2, 2, strides=(2, 1, 1)), (2, 2, 2, 1), (4, 3, 3, 2))


# -- Keras layouts, names and documented shapes --------------------------------------------
def test_kernel_layouts_and_weight_order_follow_keras():
    x = np.zeros((1, 6, 6, 4), np.float32)
    conv = layers.Conv2D(8, (3, 2), groups=2)
    conv(x)
    assert [w.shape for w in conv.get_weights()] == [(3, 2, 2, 8), (8,)]
    transpose = layers.Conv2DTranspose(5, 3)
    transpose(x)
    assert [w.shape for w in transpose.get_weights()] == [(3, 3, 5, 4), (5,)]
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2)
    depthwise(x)
    assert list(depthwise.params) == ["kernel", "bias"]
    assert [w.shape for w in depthwise.get_weights()] == [(3, 3, 4, 2), (8,)]
    separable = layers.SeparableConv2D(7, 3, depth_multiplier=2)
    separable(x)
    assert list(separable.params) == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [w.shape for w in separable.get_weights()] == [(3, 3, 4, 2), (1, 1, 8, 7), (7,)]
    assert conv.get_weights()[0].dtype == np.float32 and conv(x).dtype == np.float32


def test_default_names_are_keras_snake_case():
    keras.backend.clear_session()
    assert layers.Conv2D(1, 1).name == "conv2d"
    assert layers.Conv2D(1, 1).name == "conv2d_1"
    assert layers.Conv2DTranspose(1, 1).name == "conv2d_transpose"
    assert layers.SeparableConv1D(1, 1).name == "separable_conv1d"


def test_output_shapes_of_keras_documented_examples():
    rng = np.random.default_rng(0)
    assert layers.Conv1D(32, 3, activation="relu")(rng.random((4, 10, 128))).shape == (4, 8, 32)
    assert layers.Conv2D(32, 3, activation="relu")(rng.random((4, 10, 10, 128))).shape == (
        4,
        8,
        8,
        32,
    )
    assert layers.Conv2DTranspose(32, 2, 2, activation="relu")(
        rng.random((4, 10, 8, 128))
    ).shape == (4, 20, 16, 32)
    assert layers.Conv3D(32, 3)(rng.random((4, 10, 10, 10, 3))).shape == (4, 8, 8, 8, 32)
    assert layers.Conv2D(2, 3).compute_output_shape((None, None, 9, 1)) == (None, None, 7, 2)


def test_conv2d_computes_a_cross_correlation():
    layer = layers.Conv2D(1, 2, use_bias=False)
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    layer(x)
    layer.set_weights([np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)])
    expected = [[0 + 2 + 9 + 16, 1 + 4 + 12 + 20], [3 + 8 + 18 + 28, 4 + 10 + 21 + 32]]
    np.testing.assert_allclose(layer(x)[0, :, :, 0], expected)


def test_causal_conv1d_output_depends_only_on_the_past():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = np.random.default_rng(0).random((1, 9, 1))
    changed = x.copy()
    changed[0, 6:] += 1.0
    np.testing.assert_array_equal(layer(x)[0, :6], layer(changed)[0, :6])
    assert not np.allclose(layer(x)[0, 6:], layer(changed)[0, 6:])


def test_separable_equals_depthwise_then_pointwise():
    rng = np.random.default_rng(0)
    x = rng.random((2, 5, 5, 3))
    separable = layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="same")
    separable(x)
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False)
    pointwise = layers.Conv2D(4, 1)
    pointwise(depthwise(x))
    depthwise_kernel, pointwise_kernel, bias = separable.get_weights()
    depthwise.set_weights([depthwise_kernel])
    pointwise.set_weights([pointwise_kernel, bias + 1.0])
    separable.set_weights([depthwise_kernel, pointwise_kernel, bias + 1.0])
    np.testing.assert_allclose(separable(x), pointwise(depthwise(x)), rtol=1e-5)


# -- the backward protocol -----------------------------------------------------------------
def test_backward_skips_the_input_gradient_when_not_needed_and_adds_gradients():
    rng = np.random.default_rng(0)
    x, dy = rng.random((2, 5, 5, 2)), rng.random((2, 3, 3, 4))
    layer = layers.Conv2D(4, 3)
    layer(x)
    layer.zero_grads()
    assert layer.backward(dy, BackwardContext(need_input_grad=False)) is None
    once = layer.grads["kernel"].copy()
    assert layer.backward(dy).shape == x.shape
    np.testing.assert_allclose(layer.grads["kernel"], 2 * once, rtol=1e-6)
    layer.backward(dy, BackwardContext(fresh={layer}))  # the step's first: overwrite
    np.testing.assert_allclose(layer.grads["kernel"], once, rtol=1e-6)


def test_activity_regularizer_adds_its_loss_and_gradient(float64):
    rng = np.random.default_rng(0)
    x, dy = rng.random((2, 2, 4)), rng.random((2, 3, 2))  # channels first
    layer = layers.Conv1D(
        3, 3, data_format="channels_first", activity_regularizer=keras.regularizers.L2(0.5)
    )
    plain = layers.Conv1D(3, 3, data_format="channels_first")
    y = layer(x)
    plain(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer.activity_loss, 0.5 * np.sum(y**2))
    # d(0.5 * sum(y^2))/dy = y: the penalised layer's backward equals the plain one fed dy + y
    np.testing.assert_allclose(layer.backward(dy), plain.backward(dy + y))


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"kernel_size": 0},
            r"`kernel_size` of Conv2D layer .* tuple of 2 positive integers. Received: "
            r"kernel_size=0",
        ),
        ({"kernel_size": (3, 3, 3)}, r"Received: kernel_size=\(3, 3, 3\)"),
        ({"kernel_size": "3"}, r"Received: kernel_size='3'"),
        ({"strides": (1, -1)}, r"`strides`"),
        (
            {"padding": "full"},
            r"`padding` of Conv2D .* one of 'valid', 'same'. Received: padding='full'",
        ),
        ({"padding": "causal"}, r"Received: padding='causal'"),
        ({"data_format": "NHWC"}, r"`data_format`"),
        ({"filters": 0}, r"`filters` of Conv2D .* positive integer. Received: filters=0"),
        ({"filters": 6, "groups": 4}, r"filters must be evenly divisible by the number of groups"),
        (
            {"strides": 2, "dilation_rate": 2},
            r"`strides > 1` not supported in conjunction with `dilation_rate > 1`",
        ),
    ],
)
def test_conv2d_rejects_bad_arguments(kwargs, message):
    kwargs = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        layers.Conv2D(**kwargs)


def test_conv_rejects_bad_inputs():
    with pytest.raises(
        ValueError, match=r"Conv2D layer .* expects inputs of rank 4 .* \(None, 5, 5\)"
    ):
        layers.Conv2D(2, 3)(np.zeros((2, 5, 5)))
    with pytest.raises(
        ValueError,
        match=r"input channels must be evenly divisible .* groups=2, but the input has 3 channels",
    ):
        layers.Conv2D(2, 3, groups=2)(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"too small for kernel_size=\(3, 3\)"):
        layers.Conv2D(2, 3)(np.zeros((1, 2, 5, 1)))
    with pytest.raises(ValueError, match=r"`output_padding` must be smaller than its stride"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"`output_padding` of Conv1DTranspose"):
        layers.Conv1DTranspose(2, 3, output_padding=(1, 1))
    with pytest.raises(ValueError, match=r"`depth_multiplier`"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)


# -- models: training, summary, saving -----------------------------------------------------
def _digits_cnn():
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.mark.slow
def test_cnn_on_digits_reaches_98_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    digits = datasets.load_digits()
    x, y = digits.data.astype(np.float32).reshape(-1, 8, 8, 1) / 16.0, digits.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    model = _digits_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(0.002),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # small matrices: one BLAS thread is as fast, and immune to a busy shared machine
    with threadpoolctl.threadpool_limits(1):
        model.fit(x[:cut], y[:cut], epochs=10, batch_size=32, verbose=0)
        _, accuracy = model.evaluate(x[cut:], y[cut:], verbose=0)
    assert accuracy >= 0.98


def test_summary_and_save_load_round_trip(tmp_path):
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, depth_multiplier=2),
            layers.SeparableConv2D(3, 2, strides=2, padding="same"),
            layers.Conv2DTranspose(2, 2, strides=2, data_format="channels_last"),
            layers.MaxPooling2D(),
            layers.AveragePooling2D(padding="same"),
            layers.GlobalMaxPooling2D(),
            layers.Dense(3),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "conv2d (Conv2D)" in text and "(None, 8, 8, 4)" in text and "(None, 6, 6, 8)" in text
    assert "separable_conv2d (SeparableConv2D)" in text and "(None, 3, 3, 3)" in text
    assert "conv2d_transpose (Conv2DTranspose)" in text and "(None, 6, 6, 2)" in text
    assert f"Total params: {model.count_params():,}" in text
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((4, 8, 8, 2)).astype(np.float32)
    model.fit(x, np.zeros((4, 3), np.float32), epochs=1, verbose=0)
    path = tmp_path / "cnn.npkeras"
    model.save(path)
    loaded = keras.models.load_model(path)
    names = [type(layer).__name__ for layer in loaded.layers]
    assert names == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_softmax_runs_over_the_outputs_last_axis_as_in_keras():
    # channels_first: Keras applies activation(outputs), so softmax covers the width axis
    # (no bias: a per-channel shift along the softmax axis has a zero gradient)
    check_layer(
        lambda: layers.Conv2D(
            3, 2, activation="softmax", data_format="channels_first", use_bias=False
        ),
        (2, 4, 5),
        (3, 3, 4),
    )
    y = layers.Conv2D(3, 2, activation="softmax", data_format="channels_first")(
        np.random.default_rng(0).random((2, 2, 4, 5))
    )
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)
    y = layers.Conv1D(3, 2, activation="softmax")(np.random.default_rng(0).random((2, 4, 5)))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers
from npkeras.layers.activation_functions import FunctionActivation
from npkeras.layers.base import BackwardContext
from tests.helpers import check_layer

ACTIVATIONS = [
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "silu",
    "hard_sigmoid",
    "exponential",
]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients_with_each_activation(activation):
    check_layer(lambda: layers.Dense(4, activation=activation), (3,), (4,), expected_params=16)


def test_dense_without_bias_and_on_3d_inputs():
    check_layer(lambda: layers.Dense(2, use_bias=False), (5, 3), (5, 2), expected_params=6)


def test_dense_with_float32_weights_takes_float64_inputs():
    layer = layers.Dense(3, activation="relu")
    layer.build((None, 4))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.standard_normal((4, 3)), rng.standard_normal(3)])
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    y = layer.forward(x, training=True)
    dx = layer.backward(dy, BackwardContext(fresh={layer}))  # overwrite: the float64 -> 32 path
    w, b = (v.astype(np.float64) for v in layer.get_weights())
    mask = (x @ w + b) > 0
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-6)
    np.testing.assert_allclose(layer.grads["kernel"], x.T @ (dy * mask), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.grads["bias"], (dy * mask).sum(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, (dy * mask) @ w.T, rtol=1e-6)


def test_dense_kernel_layout_matches_keras():
    layer = layers.Dense(4)
    layer(np.zeros((2, 3)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 4) and bias.shape == (4,)
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(bias, 0)


def test_dense_computes_x_at_w_plus_b():
    layer = layers.Dense(2)
    layer(np.zeros((1, 3)))
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    layer.set_weights([w, np.array([1.0, -1.0])])
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(layer(x), x @ w + [1.0, -1.0])


def test_glorot_uniform_kernel_stays_within_its_limit():
    layer = layers.Dense(300)
    layer(np.zeros((1, 200)))
    limit = np.sqrt(6 / 500)
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() <= limit
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.005


@pytest.mark.parametrize("units", [0, -3, 2.5, "4", True])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match=r"invalid value for `units`.*expected a positive integer"):
        layers.Dense(units)


def test_dense_rejects_input_with_other_last_dimension():
    layer = layers.Dense(2, name="dense_in")
    layer(np.zeros((4, 3)))
    with pytest.raises(
        ValueError,
        match=r"Layer 'dense_in' expects inputs whose last dimension is 3, "
        r"but received shape \(32, 5\)",
    ):
        layer(np.zeros((32, 5)))


def test_set_weights_wrong_count_names_layer():
    layer = layers.Dense(2, name="d2")
    layer(np.zeros((1, 3)))
    with pytest.raises(
        ValueError, match=r"Layer 'd2' expects 2 weight array\(s\) \(kernel, bias\), but received 1"
    ):
        layer.set_weights([np.zeros((3, 2))])


def test_set_weights_wrong_shape_names_expected_and_received():
    layer = layers.Dense(2, name="d3")
    layer(np.zeros((1, 3)))
    with pytest.raises(
        ValueError,
        match=r"Layer 'd3' weight 'kernel' has shape \(3, 2\), but the array "
        r"provided has shape \(2, 3\)",
    ):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_non_numeric_input_is_refused():
    with pytest.raises(
        TypeError, match=r"`inputs` must be a numeric array, but received dtype <U1"
    ):
        layers.Dense(2)(np.array([["a", "b"]]))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(
        ValueError,
        match=r"Unknown activation: 'rellu'. Did you mean 'relu'\?.*Valid activations are: "
              r".*sigmoid",
    ):
        layers.Dense(2, activation="rellu")


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="has not been built yet"):
        layers.Dense(2).count_params()


def test_unique_automatic_names():
    a, b = layers.Dense(1), layers.Dense(1)
    assert a.name != b.name and b.name.startswith("dense")


def test_activation_layer_gradients():
    check_layer(lambda: layers.Activation("tanh"), (4,), (4,), expected_params=0)


@keras.saving.register_keras_serializable(package="TestCore")
def squashed_square(x):
    return keras.ops.tanh(x) * keras.ops.square(x)


@keras.saving.register_keras_serializable(package="TestCore")
def half_softplus(x):  # a gate in (0, inf): LSTM gradients stay well conditioned
    return 0.5 * keras.ops.softplus(x)


def swish_by_hand(x):  # a named, unregistered function
    return x * keras.ops.sigmoid(x)


def test_activation_layer_takes_a_registered_function_gradients_and_config():
    # d/dx tanh(x) x^2 = (1 - tanh^2) x^2 + 2 x tanh(x), from the tape: finite differences
    layer = check_layer(lambda: layers.Activation(squashed_square), (4,), (4,), expected_params=0)
    assert layer.get_config()["activation"] == "TestCore>squashed_square"
    layer = layers.Activation(squashed_square)
    x = np.array([[-1.5, 0.0, 2.0]])
    np.testing.assert_allclose(layer(x), np.tanh(x) * x**2)
    layer(x, training=True)
    expected = (1 - np.tanh(x) ** 2) * x**2 + 2 * x * np.tanh(x)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), expected, rtol=1e-6)


def test_activation_layer_takes_a_lambda_and_refuses_to_save_it():
    layer = layers.Activation(lambda x: keras.ops.exp(-keras.ops.square(x)))
    check_layer_gradients = keras.utils.gradcheck.check_layer_gradients
    keras.backend.set_floatx("float64")
    try:
        errors = check_layer_gradients(layer, np.random.default_rng(0).standard_normal((3, 5)))
    finally:
        keras.backend.set_floatx("float32")
    assert errors["input"] < 1e-6
    np.testing.assert_allclose(layer(np.array([[0.0, 1.0]])), [[1.0, np.exp(-1.0)]])
    with pytest.raises(ValueError, match=r"Activation layer '.*' cannot be saved: its activation "
                       r"'<lambda>' is a lambda .*register_keras_serializable"):
        layer.get_config()


def test_activation_layer_keeps_the_hand_written_path_for_builtin_functions():
    for function, expected in [(keras.ops.relu, keras.activations.relu),
                               (keras.activations.relu, keras.activations.relu),
                               (keras.ops.softmax, keras.activations.softmax),
                               (keras.ops.sigmoid, keras.activations.sigmoid)]:
        assert layers.Activation(function).activation is expected
    gelu = layers.Activation(keras.ops.gelu).activation  # keras.ops.gelu's default: tanh form
    assert isinstance(gelu, keras.activations.GELU) and gelu.approximate
    assert layers.Activation(keras.ops.relu).get_config()["activation"] == "relu"
    traced = layers.Activation(swish_by_hand).activation
    assert isinstance(traced, FunctionActivation) and traced.function is swish_by_hand


def test_activation_function_trains_like_the_same_lambda_layer():
    def model_with(last):
        keras.utils.set_random_seed(3)
        inputs = keras.Input(shape=(3,))
        model = keras.Model(inputs, last(layers.Dense(2)(layers.Dense(4)(inputs))))
        model.compile(keras.optimizers.SGD(0.1), "mse")
        return model

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    traced = model_with(layers.Activation(swish_by_hand))
    reference = model_with(layers.Lambda(swish_by_hand))
    reference.set_weights(traced.get_weights())
    for model in (traced, reference):
        model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(traced.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(traced.get_weights()[0], reference.get_weights()[0] * 0)


def test_activation_function_under_a_gradient_tape_and_after_inference():
    layer = layers.Activation(swish_by_hand)
    with keras.GradientTape() as tape:
        x = tape.watch(np.array([[-1.0, 0.5]], "float32"))
        y = keras.ops.sum(layer(x))
    s = 1 / (1 + np.exp(-np.array([[-1.0, 0.5]])))
    expected = s * (1 + np.array([[-1.0, 0.5]]) * (1 - s))
    np.testing.assert_allclose(tape.gradient(y, x), expected, rtol=1e-5)
    with keras.ops.no_grad():  # the derivative is taken on the kept input, even then
        layer(np.array([[-1.0, 0.5]], "float32"))
    np.testing.assert_allclose(layer.backward(np.ones((1, 2), "float32")), expected, rtol=1e-5)
    constant = layers.Activation(lambda x: keras.ops.ones((1, 2)))
    constant(np.ones((1, 2), "float32"))
    np.testing.assert_array_equal(constant.backward(np.ones((1, 2), "float32")), [[0.0, 0.0]])


def test_activation_function_save_and_load(tmp_path):
    inputs = keras.Input(shape=(3,))
    hidden = layers.Activation(squashed_square)(layers.Dense(4)(inputs))
    model = keras.Model(inputs, layers.Activation(swish_by_hand)(layers.Dense(2)(hidden)))
    path = str(tmp_path / "activations.keras")
    model.save(path)
    x = np.random.default_rng(2).standard_normal((5, 3)).astype("float32")
    loaded = keras.models.load_model(path, custom_objects={"swish_by_hand": swish_by_hand})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    assert loaded.layers[-1].activation.function is swish_by_hand
    with pytest.raises(ValueError, match=r"Unknown activation: 'swish_by_hand'.*loads when it "
                       r"is registered .* or passed in custom_objects"):
        keras.models.load_model(path)


@pytest.mark.parametrize("make, shape, out_shape", [
    (lambda: layers.Dense(3, activation=squashed_square), (4,), (3,)),
    (lambda: layers.Conv1D(2, 3, activation=squashed_square), (5, 2), (3, 2)),
    (lambda: layers.SimpleRNN(2, activation=squashed_square), (3, 2), (2,)),
    (lambda: layers.LSTM(2, recurrent_activation=half_softplus), (3, 2), (2,)),
])
def test_layers_take_a_function_as_activation(make, shape, out_shape):
    # Keras 3 takes any function as a layer's activation; the tape differentiates it
    layer = check_layer(make, shape, out_shape)
    assert isinstance(layer.get_config().get("activation") or
                      layer.get_config()["recurrent_activation"], str)


def test_dense_with_a_function_activation_equals_dense_then_activation_layer():
    keras.utils.set_random_seed(0)
    fused = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, activation=swish_by_hand)])
    split = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2),
                              layers.Activation(swish_by_hand)])
    split.set_weights(fused.get_weights())
    x, y = np.random.default_rng(1).standard_normal((8, 3)), np.ones((8, 2))
    for model in (fused, split):
        model.compile(keras.optimizers.SGD(0.1), "mse")
        model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(fused.get_weights(), split.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Dense layer '.*' cannot be saved: its activation "
                       r"'<lambda>' is a lambda"):
        layers.Dense(2, activation=lambda x: x).get_config()


def test_a_function_named_like_a_builtin_is_never_fused_into_the_loss():
    def softmax(x):  # not normalised: fusing it with the cross-entropy would be wrong
        return keras.ops.exp(x)

    layer = layers.Dense(2, activation=softmax)
    assert layer.activation.name == "function softmax"
    model = keras.Sequential([keras.Input(shape=(2,)), layer])
    model.compile("sgd", "categorical_crossentropy")
    assert model._training_step().fused == [None]


def test_flatten_and_reshape_gradients():
    check_layer(lambda: layers.Flatten(), (2, 3), (6,))
    check_layer(lambda: layers.Reshape((3, 2)), (6,), (3, 2))
    check_layer(lambda: layers.Reshape((-1, 2)), (2, 3), (3, 2))


def test_reshape_rejects_incompatible_target():
    with pytest.raises(
        ValueError, match=r"cannot reshape inputs of shape \(None, 5\) to target_shape=\(2, 2\)"
    ):
        keras.Sequential([keras.Input(shape=(5,)), layers.Reshape((2, 2))])


def test_dropout_is_identity_at_inference_and_inverted_when_training():
    layer = layers.Dropout(0.5, seed=3)
    x = np.ones((1000, 10), dtype=np.float32)
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    kept = y != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(y[kept], 2.0)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dy), y)  # same mask, same scale


def test_dropout_with_seed_is_reproducible():
    x = np.ones((4, 8), dtype=np.float32)
    a = layers.Dropout(0.3, seed=7)(x, training=True)
    b = layers.Dropout(0.3, seed=7)(x, training=True)
    np.testing.assert_array_equal(a, b)


def test_dropout_noise_shape_shares_the_mask():
    y = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(np.ones((6, 4)), training=True)
    assert all(len(set(row.tolist())) == 1 for row in y)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"invalid value for `rate`.*\[0, 1\)"):
        layers.Dropout(rate)


def test_dense_regularizers_add_to_gradients():
    layer = layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.1))
    layer(np.ones((1, 3)))
    w = layer.get_weights()[0]
    assert layer.regularization_loss() == pytest.approx(
        0.1 * float((w.astype(np.float64) ** 2).sum()), rel=1e-6
    )
    layer.zero_grads()
    layer.add_regularization_grads()
    np.testing.assert_allclose(layer.grads["kernel"], 0.2 * w, rtol=1e-6)


def test_clear_session_restarts_automatic_names():
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1).name == "dense_1"
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"


def test_dense_on_long_sequences_gradients():
    from npkeras import backend
    from npkeras.utils.gradcheck import check_layer_gradients, check_model_gradients

    backend.set_floatx("float64")
    try:
        layer = layers.Dense(2, activation="tanh")
        x = np.random.default_rng(0).standard_normal((2, 600, 3))  # 1200 rows: blocked
        layer(x)
        errors = check_layer_gradients(layer, x)
        assert max(errors.values()) < 1e-6, errors
        # in a model the training step lets the layer overwrite its gradients (fresh)
        model = keras.Sequential(
            [
                keras.Input((600, 3)),
                layers.Dense(2, activation="tanh"),
                layers.Flatten(),
                layers.Dense(1),
            ]
        )
        model.compile(optimizer="sgd", loss="mse")
        y = np.random.default_rng(1).standard_normal((2, 1))
        model.train_on_batch(x, y)  # leaves stale gradients behind
        assert check_model_gradients(model, x, y) < 1e-6
    finally:
        backend.set_floatx("float32")

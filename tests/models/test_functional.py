import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, layers
from npkeras.utils.gradcheck import check_model_gradients


def test_two_inputs_two_outputs_shapes_and_names():
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    h = layers.Concatenate()([layers.Dense(4)(a), b])
    out1 = layers.Dense(1, name="reg")(h)
    out2 = layers.Dense(3, activation="softmax", name="cls")(h)
    model = keras.Model([a, b], [out1, out2])
    assert model.input_names == ["a", "b"] and model.output_names == ["reg", "cls"]
    assert model.output_shape == [(None, 1), (None, 3)]
    y1, y2 = model.predict([np.zeros((5, 3)), np.zeros((5, 2))], verbose=0)
    assert y1.shape == (5, 1) and y2.shape == (5, 3)
    ys = model.predict({"a": np.zeros((2, 3)), "b": np.zeros((2, 2))}, verbose=0)
    assert ys[1].shape == (2, 3)
    assert [type(layer).__name__ for layer in model.layers][:2] == ["InputLayer", "Dense"]


@pytest.mark.parametrize(
    "merge",
    [
        layers.Add,
        layers.Subtract,
        layers.Multiply,
        layers.Average,
        layers.Maximum,
        layers.Minimum,
        layers.Concatenate,
    ],
)
def test_merge_graph_gradients(float64, merge):
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    h = merge()([layers.Dense(4, activation="tanh")(a), layers.Dense(4)(b)])
    model = keras.Model([a, b], layers.Dense(2)(h))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))]
    assert check_model_gradients(model, x, rng.standard_normal((5, 2))) < 1e-6


def test_shared_layer_gradients_add_up(float64):
    shared = layers.Dense(3, activation="tanh")
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    model = keras.Model([a, b], layers.Dense(1)(layers.Add()([shared(a), shared(b)])))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((4, 2)), rng.standard_normal((4, 2))]
    y = rng.standard_normal((4, 1))
    assert check_model_gradients(model, x, y) < 1e-6
    # the shared kernel's gradient is the sum of both uses: not equal to either alone
    step = model._training_step()
    buf = step.prepare()
    xs, ys, sws, _ = model._arrays(x, y)
    step.compute_gradients(xs, ys, sws)
    both = shared.grads["kernel"].copy()
    step.compute_gradients([xs[0], np.zeros_like(xs[1])], ys, sws)
    assert not np.allclose(both, shared.grads["kernel"])
    assert buf.params.size == model.count_params()


def test_layer_used_twice_in_sequence(float64):
    x = keras.Input(shape=(3,))
    dense = layers.Dense(3, activation="tanh")
    model = keras.Model(x, dense(dense(x)))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(2)
    assert (
        check_model_gradients(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))
        < 1e-6
    )


def test_nested_model_as_layer(float64):
    inner = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu")])
    x = keras.Input(shape=(3,))
    model = keras.Model(x, layers.Dense(1)(inner(x)))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(3)
    assert (
        check_model_gradients(model, rng.standard_normal((6, 3)), rng.standard_normal((6, 1)))
        < 1e-6
    )
    assert model.count_params() == 16 + 5


def test_multi_output_losses_weights_and_history_keys():
    x = keras.Input(shape=(4,))
    h = layers.Dense(8, activation="relu")(x)
    model = keras.Model(
        x, {"price": layers.Dense(1)(h), "kind": layers.Dense(3, activation="softmax")(h)}
    )
    model.compile(
        optimizer="adam",
        loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
        loss_weights={"price": 0.5, "kind": 2.0},
        metrics={"kind": ["accuracy"]},
    )
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 4))
    ys = {"price": rng.standard_normal((64, 1)), "kind": rng.integers(0, 3, 64)}
    history = model.fit(xs, ys, epochs=2, verbose=0, validation_split=0.25)
    assert set(history.history) == {
        "loss",
        "price_loss",
        "kind_loss",
        "kind_accuracy",
        "val_loss",
        "val_price_loss",
        "val_kind_loss",
        "val_kind_accuracy",
    }
    logs = model.evaluate(xs, ys, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(
        0.5 * logs["price_loss"] + 2.0 * logs["kind_loss"], rel=1e-5
    )


def test_graph_disconnected():
    a, b = keras.Input(shape=(2,), name="in_a"), keras.Input(shape=(2,), name="in_b")
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"Graph disconnected: the outputs depend on input 'in_b'"):
        keras.Model(a, out)


def test_input_without_path_to_an_output_is_accepted_and_ignored(tmp_path):
    # Keras 3 builds such a model and ignores that input's data; npkeras also warns
    a, b = keras.Input(shape=(3,), name="used"), keras.Input(shape=(2,), name="unused")
    with pytest.warns(UserWarning, match=r"Model inputs \['unused'\] are not connected to"):
        model = keras.Model([a, b], layers.Dense(1, kernel_initializer="ones")(a))
    x = [np.ones((4, 3), "float32"), np.full((4, 2), 7.0, "float32")]
    np.testing.assert_allclose(model.predict(x, verbose=0), np.full((4, 1), 3.0))
    assert model.input_names == ["used", "unused"]
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "unused_input.keras")
    model.save(path)
    with pytest.warns(UserWarning, match="not connected"):
        loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_wrong_input_shape_names_input_and_shapes():
    x = keras.Input(shape=(3,), name="features")
    model = keras.Model(x, layers.Dense(1)(x), name="m")
    with pytest.raises(
        ValueError,
        match=r"Input 'features' of model 'm' expects shape \(None, 3\), "
        r"but received an array of shape \(8, 4\)",
    ):
        model.predict(np.zeros((8, 4)), verbose=0)


def test_symbolic_call_checks_built_layer_shape():
    dense = layers.Dense(2, name="fixed")
    dense(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"Layer 'fixed' expects inputs whose last dimension is 3"):
        dense(keras.Input(shape=(5,)))


def test_model_needs_inputs_and_outputs():
    with pytest.raises(TypeError, match=r"Model\(inputs, outputs\) needs both"):
        keras.Model()
    with pytest.raises(TypeError, match="must be symbolic tensors"):
        keras.Model(np.zeros(3), np.zeros(3))


def test_freezing_keeps_weights_fixed_during_fit():
    x = keras.Input(shape=(3,))
    frozen = layers.Dense(4, name="frozen")
    model = keras.Model(x, layers.Dense(1)(frozen(x)))
    frozen.trainable = False
    model.compile(optimizer="adam", loss="mse")
    before = frozen.get_weights()
    head_before = model.layers[-1].get_weights()
    model.fit(np.random.rand(32, 3), np.random.rand(32, 1), epochs=2, verbose=0)
    for a, b in zip(before, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head_before[0], model.layers[-1].get_weights()[0])
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_unfreezing_after_training_takes_effect():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2), layers.Dense(1)])
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    model.layers[0].trainable = True
    before = model.layers[0].get_weights()[0]
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    assert not np.array_equal(before, model.layers[0].get_weights()[0])


def test_model_trainable_flag_reaches_layers():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2)])
    model.trainable = False
    assert model.layers[0].trainable is False and model.trainable_weights == []


def test_float64_models(float64):
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    assert model.get_weights()[0].dtype == np.float64
    assert backend.floatx() == "float64"


def test_output_without_loss_leaves_its_head_untouched():
    x = keras.Input(shape=(3,))
    h = layers.Dense(4, activation="relu")(x)
    model = keras.Model(x, [layers.Dense(1, name="used")(h), layers.Dense(2, name="unused")(h)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse", None])
    before = model.get_layer("unused").get_weights()
    rng = np.random.default_rng(0)
    model.fit(
        rng.standard_normal((16, 3)),
        [rng.standard_normal((16, 1)), np.zeros((16, 2))],
        epochs=3,
        batch_size=4,
        verbose=0,
    )
    for a, b in zip(before, model.get_layer("unused").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_inference_models_from_a_trained_models_layers():
    """The encoder-decoder pattern: Model.input/output and layer.input/output."""
    encoder_in = keras.Input(shape=(4,))
    hidden = layers.Dense(3, activation="tanh", name="encode")(encoder_in)
    out = layers.Dense(2, name="decode")(hidden)
    model = keras.Model(encoder_in, out)
    assert model.input is encoder_in and model.output is out
    encoder = keras.Model(model.input, model.get_layer("encode").output)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    expected = np.tanh(x @ model.get_layer("encode").get_weights()[0]
                       + model.get_layer("encode").get_weights()[1])
    np.testing.assert_allclose(encoder.predict(x, verbose=0), expected, rtol=1e-5)
    assert model.get_layer("decode").input is hidden
    with pytest.raises(AttributeError, match="has never been called on a symbolic tensor"):
        layers.Dense(2).output

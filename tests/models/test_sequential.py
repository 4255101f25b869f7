import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npkeras as keras
from npkeras import layers
from tests.helpers import captured_print


def _model():
    return keras.Sequential(
        [keras.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(2)]
    )


def test_layers_add_pop_and_shapes():
    model = keras.Sequential()
    model.add(keras.Input(shape=(3,)))
    model.add(layers.Dense(4))
    model.add(layers.Dense(2))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.input_shape == (None, 3) and model.output_shape == (None, 2)
    assert model.inputs[0].shape == (None, 3) and model.outputs[0].shape == (None, 2)
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 4)
    assert model.count_params() == 16


def test_build_from_input_shape_argument_and_from_data():
    a = keras.Sequential([layers.Dense(2, input_shape=(5,))])
    assert a.output_shape == (None, 2)
    b = keras.Sequential([layers.Dense(2)])
    assert not b.built
    out = b(np.zeros((4, 7)))
    assert out.shape == (4, 2) and b.input_shape == (None, 7)
    c = keras.Sequential([layers.Dense(3)])
    c.build((None, 2))
    assert c.count_params() == 9


def test_unbuilt_model_shapes_error():
    with pytest.raises(ValueError, match="has not been built: its input shape is unknown"):
        _ = keras.Sequential([layers.Dense(2)]).output_shape


def test_call_on_arrays_equals_predict():
    model = _model()
    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x), model.predict(x, verbose=0), rtol=1e-6)


@settings(max_examples=15, deadline=None)
@given(batch_size=st.integers(1, 12))
def test_predict_is_invariant_to_batch_size(batch_size):
    keras.utils.set_random_seed(1)
    model = _model()
    x = np.random.default_rng(2).standard_normal((25, 3)).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x, batch_size=batch_size, verbose=0),
        model.predict(x, batch_size=25, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_get_weights_set_weights_round_trip():
    model = _model()
    weights = [w + 1 for w in model.get_weights()]
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="has 4 weight arrays, but set_weights received 1"):
        model.set_weights(weights[:1])


def test_get_layer_by_name_and_index():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1, name="head")])
    assert model.get_layer("head") is model.layers[0]
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match=r"No such layer: 'tail'. Existing layers are: \['head'\]"):
        model.get_layer("tail")


def test_summary_prints_keras_table():
    buf, print_fn = captured_print()
    model = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Dense(4, name="hidden"), layers.Dense(1, name="out")],
        name="tiny",
    )
    model.layers[1].trainable = False
    model.summary(print_fn=print_fn)
    text = buf.getvalue()
    assert 'Model: "tiny"' in text
    assert "hidden (Dense)" in text and "(None, 4)" in text and "16" in text
    assert "Total params: 21 (84.00 B)" in text
    assert "Trainable params: 16 (64.00 B)" in text
    assert "Non-trainable params: 5 (20.00 B)" in text


def test_add_rejects_non_layers_and_late_inputs():
    model = keras.Sequential([layers.Dense(1)])
    with pytest.raises(TypeError, match="Sequential.add expects a Layer instance; received int"):
        model.add(3)
    with pytest.raises(ValueError, match="an Input can only be the first entry"):
        model.add(keras.Input(shape=(2,)))


def test_pop_empty_model():
    with pytest.raises(IndexError, match="has no layers to pop"):
        keras.Sequential().pop()


def test_clone_model_rebuilds_the_architecture_with_new_weights():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), layers.Dense(1)])
    twin = keras.models.clone_model(model)
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(twin.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="`clone_function` are not supported"):
        keras.models.clone_model(model, clone_function=lambda layer: layer)


def test_a_built_sequential_model_is_a_graph_of_its_layers():
    model = _model()
    first, second = model.layers
    # the graph's tensors are the layers' own symbolic outputs, as in a functional model
    assert model.outputs[0] is second.output and second.input is first.output
    assert model.inputs[0] is first.input
    assert [step.layer for step in model._plan] == [first, second]
    # a functional model made from the same tensors computes the same function
    twin = keras.Model(model.inputs[0], model.outputs[0])
    x = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layers_added_after_the_input_shape_join_the_graph_and_pop_leaves_it():
    model = keras.Sequential([keras.Input(shape=(3,))])
    assert not model.built and model.layers == []
    model.add(layers.Dense(4))
    assert model.built and model.output_shape == (None, 4)
    model.add(layers.Dense(2))
    assert model.outputs[0] is model.layers[1].output
    model.pop()
    assert model.outputs[0] is model.layers[0].output and model.output_shape == (None, 4)
    model.pop()
    assert not model.built
    with pytest.raises(ValueError, match="has not been built"):
        _ = model.outputs


def test_a_layer_that_does_not_fit_is_refused_and_not_added():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4)])
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        model.add(layers.Conv1D(2, 3))
    assert len(model.layers) == 1 and model.output_shape == (None, 4)


def test_sequential_summary_shows_no_connections_and_functional_does():
    buf, print_fn = captured_print()
    _model().summary(print_fn=print_fn)
    assert "Connected to" not in buf.getvalue()
    x = keras.Input(shape=(3,))
    buf, print_fn = captured_print()
    keras.Model(x, layers.Dense(2)(x)).summary(print_fn=print_fn)
    assert "Connected to" in buf.getvalue()


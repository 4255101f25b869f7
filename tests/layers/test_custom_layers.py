"""Layers written the Keras way (add_weight + call with keras.ops): gradients from the tape."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers, ops
from npkeras.utils.gradcheck import check_layer_gradients, check_model_gradients


class CustomDense(keras.layers.Layer):
    """Dense written as a Keras guide writes it: no backward."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="glorot_uniform",
            trainable=True,
            name="kernel",
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        z = ops.matmul(inputs, self.w) + self.b
        return ops.relu(z) if self.activation.name == "relu" else z

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name}


class Residual(keras.layers.Layer):
    """x + tanh(x W): a sub-layer tracked as an attribute, plus an add_loss term."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(3, activation="tanh")

    def call(self, inputs):
        out = inputs + self.inner(inputs)
        self.add_loss(0.01 * ops.sum(ops.square(self.inner.kernel)))
        return out


def test_custom_dense_trains_to_the_builtin_weights(float64):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)), rng.standard_normal((64, 2))
    results = []
    for make in (
        lambda: CustomDense(4, activation="relu"),
        lambda: layers.Dense(4, activation="relu"),
    ):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input(shape=(5,)), make(), layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0)  # 20 Adam steps
        results.append(model.get_weights())
    for custom, builtin in zip(*results):
        np.testing.assert_allclose(custom, builtin, rtol=0, atol=1e-10)


def test_custom_layer_in_a_sequential_passes_the_model_gradient_check(float64):
    rng = np.random.default_rng(1)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            layers.Dense(3, activation="tanh"),
            Residual(),
            CustomDense(2),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    assert (
        check_model_gradients(model, rng.standard_normal((6, 3)), rng.standard_normal((6, 1)))
        < 1e-6
    )


def test_custom_layer_input_and_weight_gradients(float64):
    layer = CustomDense(3, activation="relu")
    x = np.random.default_rng(2).standard_normal((4, 5))
    layer(x)
    errors = check_layer_gradients(layer, x)
    assert set(errors) == {"input", "kernel", "bias"}
    assert max(errors.values()) < 1e-6


def test_sublayers_and_variables_are_tracked():
    block = Residual()
    block(np.zeros((2, 3), dtype="float32"))
    assert [v.path for v in block.weights] == [
        f"{block.inner.name}/kernel",
        f"{block.inner.name}/bias",
    ]
    assert len(block.trainable_variables) == 2
    block.trainable = False
    assert block.inner.trainable is False and block.trainable_weights == []
    assert block.losses and block.losses[0] > 0


def test_add_weight_keras_signature_and_variable_api():
    layer = keras.layers.Layer()
    v = layer.add_weight(shape=(2,), initializer="ones", trainable=False)
    assert isinstance(v, keras.Variable) and v.name == "variable" and not v.trainable
    w = layer.add_weight(shape=(2,), initializer="zeros")
    assert w.name == "variable_1"
    v.assign([3.0, 4.0])
    assert v.numpy().tolist() == [3.0, 4.0] and layer.params["variable"].tolist() == [3.0, 4.0]
    v.assign_sub([1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(v + 1), [3.0, 4.0])
    assert v.shape == (2,) and v.dtype == np.float32
    with pytest.raises(ValueError, match=r"Variable 'variable' has shape \(2,\); cannot assign"):
        v.assign(np.zeros(3))


def test_output_shape_inferred_by_running_call():
    x = keras.Input(shape=(5,))
    y = CustomDense(7)(x)
    assert y.shape == (None, 7)
    model = keras.Model(x, layers.Dense(1)(y))
    assert model.predict(np.ones((3, 5)), verbose=0).shape == (3, 1)


def test_custom_layer_saves_and_loads(tmp_path):
    keras.saving.register_serializable()(CustomDense)
    model = keras.Sequential(
        [keras.Input(shape=(3,)), CustomDense(4, activation="relu"), layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 3)).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "custom.npkeras")
    again = keras.models.load_model(tmp_path / "custom.npkeras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_without_call_or_forward_explains():
    with pytest.raises(NotImplementedError, match="defines neither `call` nor `forward`"):
        keras.layers.Layer()(np.zeros((1, 2)))


def test_attributes_set_before_the_base_init_survive_it():
    class Early(keras.layers.Layer):
        def __init__(self):
            self.inner = keras.layers.Dense(2)  # before super().__init__(), as some code does
            super().__init__()

        def call(self, x):
            return self.inner(x)

    layer = Early()
    assert layer.inner.units == 2
    assert layer._sublayers() == [layer.inner]
    assert layer(np.ones((1, 3), np.float32)).shape == (1, 2)
    assert len(layer.trainable_weights) == 2  # the inner kernel and bias are tracked

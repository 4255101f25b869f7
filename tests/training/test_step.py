"""Weight constraints are applied after every optimizer step (``variable.assign(
constraint(variable))``, as Keras does), in the fused training step and in custom train
steps through ``optimizer.apply`` / ``apply_gradients``."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import constraints, layers


class Scaled(keras.layers.Layer):
    """A Keras-style layer whose weight may have a constraint, given by name."""

    def __init__(self, constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.constraint = constraint

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     constraint=self.constraint, name="scale")

    def get_config(self):
        return {**super().get_config(), "constraint": self.constraint}

    def call(self, inputs):
        return inputs * self.scale


def _model(seed=0, constrained=True, model_class=keras.Model):
    keras.utils.set_random_seed(seed)
    pick = (lambda c: c) if constrained else (lambda c: None)
    ids = keras.Input(shape=(3,), dtype="int64")
    features = keras.Input(shape=(4,))
    embedded = layers.Flatten()(layers.Embedding(
        6, 2, embeddings_constraint=pick(constraints.UnitNorm(axis=1)))(ids))
    mixed = layers.EinsumDense(
        "ab,bc->ac", output_shape=3, bias_axes="c",
        kernel_constraint=pick(constraints.MinMaxNorm(0.5, 1.0, rate=1.0)))(features)
    joined = layers.concatenate([embedded, mixed])
    hidden = layers.Dense(5, activation="tanh",
                          kernel_constraint=pick(constraints.MaxNorm(0.6)),
                          bias_constraint=pick(constraints.NonNeg()))(joined)
    out = Scaled(pick("non_neg"))(layers.Dense(1)(hidden))
    model = model_class([ids, features], out)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def _data():
    rng = np.random.default_rng(7)
    x = [rng.integers(0, 6, (24, 3)), rng.standard_normal((24, 4)).astype("float32")]
    return x, rng.standard_normal((24, 1)).astype("float32") * 3


def _projections(model):
    """Each weight's constraint (None when it has none), in get_weights() order."""
    return [v.constraint for v in model.weights]


def _check_constraints_hold(model):
    for variable in model.weights:
        w, c = variable.numpy(), variable.constraint
        if isinstance(c, constraints.MaxNorm):
            assert np.linalg.norm(w, axis=0).max() <= 0.6 + 1e-5
        elif isinstance(c, constraints.NonNeg):
            assert w.min() >= 0.0
        elif isinstance(c, constraints.UnitNorm):
            np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, rtol=1e-5)
        elif isinstance(c, constraints.MinMaxNorm):
            norms = np.linalg.norm(w, axis=0)
            assert norms.min() >= 0.5 - 1e-5 and norms.max() <= 1.0 + 1e-5


def test_fit_applies_every_constraint_after_every_step_like_a_manual_reference():
    x, y = _data()
    model = _model()
    assert sum(c is not None for c in _projections(model)) == 5
    reference = _model(constrained=False)  # the same layers, no constraint on any weight
    reference.set_weights(model.get_weights())
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    _check_constraints_hold(model)
    projections = _projections(model)
    for _ in range(2):  # the reference: one unconstrained step, then project by hand
        for start in range(0, 24, 8):
            rows = slice(start, start + 8)
            reference.train_on_batch([x[0][rows], x[1][rows]], y[rows])
            reference.set_weights([w if c is None else c(w)
                                   for w, c in zip(reference.get_weights(), projections)])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.get_weights()[-1], 1.0)  # the scale did train


def test_custom_train_step_applies_constraints_through_optimizer_apply():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            with keras.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {"loss": loss}

    x, y = _data()
    custom, fused = _model(model_class=Custom), _model()
    custom.set_weights(fused.get_weights())
    for model in (custom, fused):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    _check_constraints_hold(custom)
    for a, b in zip(custom.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_optimizer_apply_projects_a_constrained_variable():
    weight = keras.Variable(np.array([[3.0], [4.0]]), constraint=constraints.MaxNorm(1.0))
    free = keras.Variable(np.array([-1.0]))
    keras.optimizers.SGD(0.5).apply([np.array([[2.0], [-2.0]]), np.array([2.0])],
                                    [weight, free])
    # w - 0.5 g = (2, 5), longer than 1: scaled to (2, 5) / sqrt(29)
    np.testing.assert_allclose(weight.numpy(), np.array([[2.0], [5.0]]) / np.sqrt(29.0),
                               rtol=1e-6)
    np.testing.assert_allclose(free.numpy(), [-2.0])


def test_models_without_constraints_add_nothing_to_the_step():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert model._training_step()._constrained == []
    constrained = _model()
    constrained.fit(*_data(), verbose=0)
    assert len(constrained._training_step()._constrained) == 5


@keras.saving.register_keras_serializable(package="TestStep")
def clip_to_unit(w):
    return np.clip(w, -1.0, 1.0)


def test_constraint_arguments_round_trip_through_config_and_save(tmp_path):
    dense = layers.Dense(2, kernel_constraint="max_norm", bias_constraint=clip_to_unit)
    config = dense.get_config()
    assert config["kernel_constraint"] == {"class_name": "MaxNorm",
                                           "config": {"max_value": 2, "axis": 0}}
    assert config["bias_constraint"] == "TestStep>clip_to_unit"
    twin = layers.Dense.from_config(config)
    assert isinstance(twin.kernel_constraint, constraints.MaxNorm)
    assert twin.bias_constraint is clip_to_unit
    model = _model()
    path = str(tmp_path / "constrained.keras")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects={"Scaled": Scaled})
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    assert [type(c) for c in _projections(loaded)] == [type(c) for c in _projections(model)]
    with pytest.raises(ValueError, match=r"The constraint '<lambda>' cannot be saved: npkeras "
                       r"saves functions by registered name.*register_keras_serializable"):
        layers.Embedding(3, 2, embeddings_constraint=lambda w: w).get_config()


@pytest.mark.parametrize("cls, kwargs", [(layers.BatchNormalization, {}),
                                         (layers.LayerNormalization, {}),
                                         (layers.GroupNormalization, {"groups": 2})])
def test_normalization_gamma_and_beta_constraints_hold_after_fit(cls, kwargs):
    # the target -x drives gamma below zero; NonNeg keeps it at 0, MaxNorm bounds beta
    layer = cls(gamma_constraint="non_neg", beta_constraint=constraints.MaxNorm(0.1), **kwargs)
    model = keras.Sequential([keras.Input(shape=(4,)), layer])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
    model.fit(x, -x + 1.0, epochs=5, verbose=0)
    gamma, beta = layer.get_weights()[:2]
    assert gamma.min() == 0.0 and np.linalg.norm(beta) <= 0.1 + 1e-6
    config = layer.get_config()
    assert config["gamma_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert isinstance(cls.from_config(config).beta_constraint, constraints.MaxNorm)


def test_convolution_constraints_hold_after_fit_and_round_trip():
    conv = layers.Conv2D(3, 3, kernel_constraint=constraints.MaxNorm(0.3, axis=[0, 1, 2]),
                         bias_constraint="non_neg")
    separable = layers.SeparableConv2D(2, 3, depthwise_constraint="non_neg",
                                       pointwise_constraint=constraints.UnitNorm(axis=2))
    model = keras.Sequential([keras.Input(shape=(7, 7, 1)), conv, separable,
                              layers.GlobalAveragePooling2D()])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(0).standard_normal((16, 7, 7, 1)).astype("float32")
    model.fit(x, -np.ones((16, 2), "float32") * 5, epochs=3, verbose=0)
    kernel, bias = conv.get_weights()
    assert np.sqrt((kernel**2).sum(axis=(0, 1, 2))).max() <= 0.3 + 1e-6 and bias.min() >= 0
    depthwise, pointwise, _ = separable.get_weights()
    assert depthwise.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(pointwise, axis=2), 1.0, rtol=1e-5)
    for layer in (conv, separable, layers.DepthwiseConv1D(3, depthwise_constraint="non_neg"),
                  layers.Conv1DTranspose(2, 3, kernel_constraint="non_neg")):
        config = layer.get_config()
        twin = type(layer).from_config(config)
        assert twin.get_config() == config
    assert layers.DepthwiseConv1D(3, depthwise_constraint="non_neg").get_config()[
        "depthwise_constraint"] == {"class_name": "NonNeg", "config": {}}
    with pytest.raises(TypeError, match=r"Conv2D got unexpected keyword argument\(s\): "
                       r"depthwise_constraint"):
        layers.Conv2D(2, 3, depthwise_constraint="non_neg")


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_recurrent_constraints_hold_after_fit_and_round_trip(cls):
    rnn = cls(3, kernel_constraint=constraints.MaxNorm(0.2), recurrent_constraint="unit_norm",
              bias_constraint="non_neg")
    model = keras.Sequential([keras.Input(shape=(5, 2)), rnn])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(0).standard_normal((16, 5, 2)).astype("float32")
    model.fit(x, np.full((16, 3), -0.9, "float32"), epochs=3, verbose=0)
    kernel, recurrent, bias = rnn.get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.2 + 1e-6 and bias.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(recurrent, axis=0), 1.0, rtol=1e-5)
    config = rnn.get_config()
    assert config["recurrent_constraint"] == {"class_name": "UnitNorm", "config": {"axis": 0}}
    assert cls.from_config(config).get_config() == config


def test_attention_constraints_reach_every_projection_and_hold_after_fit():
    attention = layers.MultiHeadAttention(2, 3, kernel_constraint="non_neg",
                                          bias_constraint=constraints.MaxNorm(0.1))
    inputs = keras.Input(shape=(4, 5))
    model = keras.Model(inputs, attention(inputs, inputs))
    model.compile(keras.optimizers.SGD(0.5), "mse")
    x = np.random.default_rng(0).standard_normal((8, 4, 5)).astype("float32")
    model.fit(x, -3 * x, epochs=3, verbose=0)
    assert {type(v.constraint) for v in attention.weights} == {constraints.NonNeg,
                                                                constraints.MaxNorm}
    for variable in attention.weights:
        w = variable.numpy()
        if isinstance(variable.constraint, constraints.NonNeg):
            assert w.min() >= 0.0
        else:
            assert np.linalg.norm(w.reshape(w.shape[0], -1), axis=0).max() <= 0.1 + 1e-6
    config = attention.get_config()
    assert config["kernel_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert isinstance(layers.MultiHeadAttention.from_config(config).bias_constraint,
                      constraints.MaxNorm)

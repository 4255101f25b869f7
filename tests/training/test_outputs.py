"""Models built with a dict of outputs (Keras 3): predict and calls return a dict by output
name; fit/evaluate take targets, losses, metrics and loss weights as dicts by those names."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers


def _dict_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(3,), name="features")
    hidden = layers.Dense(4, activation="tanh")(inputs)
    return keras.Model(inputs, {"price": layers.Dense(1, name="price_head")(hidden),
                                "kind": layers.Dense(2, activation="softmax")(hidden)})


def _data(count=12):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((count, 3)).astype("float32")
    price = rng.standard_normal((count, 1)).astype("float32")
    kind = np.eye(2, dtype="float32")[rng.integers(0, 2, count)]
    return x, price, kind


def test_predict_and_call_return_a_dict_by_output_name():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, {"a": layers.Dense(1, kernel_initializer="ones")(inputs),
                                 "b": layers.Dense(2, kernel_initializer="ones")(inputs)})
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], "float32")
    out = model.predict(x, verbose=0)
    assert list(out) == ["a", "b"]
    np.testing.assert_array_equal(out["a"], [[6.0], [1.0]])
    np.testing.assert_array_equal(out["b"], [[6.0, 6.0], [1.0, 1.0]])
    called = model(x)
    assert isinstance(called, dict)
    np.testing.assert_array_equal(called["b"], out["b"])
    np.testing.assert_array_equal(model.predict_on_batch(x)["a"], out["a"])
    symbolic = model(keras.Input(shape=(3,)))
    assert sorted(symbolic) == ["a", "b"] and symbolic["b"].shape == (None, 2)


def test_a_single_dict_output_stays_a_dict_and_lists_stay_lists():
    inputs = keras.Input(shape=(2,))
    single = keras.Model(inputs, {"only": layers.Dense(1)(inputs)})
    out = single.predict(np.ones((3, 2), "float32"), verbose=0)
    assert list(out) == ["only"] and out["only"].shape == (3, 1)
    listed = keras.Model(inputs, [layers.Dense(1)(inputs), layers.Dense(2)(inputs)])
    assert isinstance(listed.predict(np.ones((3, 2), "float32"), verbose=0), list)


def test_fit_and_evaluate_take_dicts_by_output_name_like_lists():
    x, price, kind = _data()
    by_name = _dict_model()
    by_name.compile(keras.optimizers.SGD(0.1),
                    loss={"kind": "categorical_crossentropy", "price": "mse"},
                    metrics={"kind": ["accuracy"], "price": ["mae"]},
                    loss_weights={"price": 0.5, "kind": 2.0})
    by_position = _dict_model()  # outputs in build order: price, kind
    by_position.compile(keras.optimizers.SGD(0.1), loss=["mse", "categorical_crossentropy"],
                        metrics=[["mae"], ["accuracy"]], loss_weights=[0.5, 2.0])
    history = by_name.fit(x, {"kind": kind, "price": price}, epochs=2, batch_size=4,
                          shuffle=False, verbose=0)
    by_position.fit(x, [price, kind], epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert set(history.history) == {"loss", "price_loss", "kind_loss", "price_mae",
                                    "kind_accuracy"}
    for a, b in zip(by_name.get_weights(), by_position.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    logs = by_name.evaluate(x, {"price": price, "kind": kind}, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(0.5 * logs["price_loss"] + 2.0 * logs["kind_loss"],
                                         rel=1e-5)
    assert logs == pytest.approx(
        by_position.evaluate(x, [price, kind], verbose=0, return_dict=True), rel=1e-6)


def test_custom_train_step_gets_dict_predictions():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            with keras.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.compiled_metrics.update_state(y, y_pred)
            assert isinstance(y_pred, dict)
            return {"loss": loss, **self.compiled_metrics.result()}

    x, price, kind = _data()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(3,))
    hidden = layers.Dense(4, activation="tanh")(inputs)
    custom = Custom(inputs, {"price": layers.Dense(1)(hidden),
                             "kind": layers.Dense(2, activation="softmax")(hidden)})
    reference = _dict_model()
    reference.set_weights(custom.get_weights())
    for model in (custom, reference):
        model.compile(keras.optimizers.SGD(0.1), metrics={"price": ["mae"]},
                      loss={"price": "mse", "kind": "categorical_crossentropy"})
        model.fit(x, {"price": price, "kind": kind}, epochs=1, batch_size=4, shuffle=False,
                  verbose=0)
    for a, b in zip(custom.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_custom_predict_step_may_return_a_dict():
    class Doubled(keras.Model):
        def predict_step(self, data):
            return {name: 2 * value for name, value in self(data).items()}

    inputs = keras.Input(shape=(2,))
    model = Doubled(inputs, {"a": layers.Dense(1, kernel_initializer="ones")(inputs)})
    np.testing.assert_array_equal(model.predict(np.ones((2, 2), "float32"), verbose=0)["a"],
                                  [[4.0], [4.0]])


def test_dict_outputs_survive_save_and_load(tmp_path):
    model = _dict_model()
    model.compile("adam", loss={"price": "mse", "kind": "categorical_crossentropy"})
    path = str(tmp_path / "dict_outputs.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x, price, kind = _data(4)
    out, expected = loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    assert sorted(out) == ["kind", "price"]
    np.testing.assert_allclose(out["kind"], expected["kind"], rtol=1e-6)
    loaded.fit(x, {"price": price, "kind": kind}, verbose=0)


def test_dict_targets_and_settings_name_the_missing_or_unknown_output():
    model = _dict_model()
    x, price, kind = _data(4)
    model.compile("sgd", loss={"price": "mse", "kind": "categorical_crossentropy"})
    with pytest.raises(ValueError, match=r"`y` is a dict, but it has no entry for \['kind'\]"):
        model.fit(x, {"price": price}, verbose=0)
    with pytest.raises(ValueError, match=r"`loss` has keys \['colour'\] that are not output "
                       r"names; the outputs are \['price', 'kind'\]"):
        model.compile("sgd", loss={"colour": "mse"})
    with pytest.raises(ValueError, match=r"`y_pred` is a dict, but it has no entry for "
                       r"\['kind'\]; it has keys \['price'\]"):
        model.compute_loss(y={"price": price, "kind": kind}, y_pred={"price": price})

"""Bad numbers never reach the weights: non-finite data, targets a loss cannot mean, and
errors raised inside fit (issue: reliability in training)."""

import warnings

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers


def _model(units=1, loss="mse", activation=None, name=None):
    model = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Dense(units, activation=activation, name=name)]
    )
    model.compile(optimizer="sgd", loss=loss)
    return model


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused_naming_array_row_and_column(bad):
    model = _model()
    before = model.get_weights()
    x = np.ones((6, 3), "float32")
    x[4, 2] = bad
    with pytest.raises(
        ValueError, match=r"`x` holds a non-finite value \((nan|inf|-inf)\) at row 4, column 2"
    ):
        model.fit(x, np.ones(6), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_non_finite_targets_weights_and_evaluation_data_are_refused():
    model = _model()
    x, y = np.ones((6, 3), "float32"), np.ones(6, "float32")
    y_bad = y.copy()
    y_bad[3] = np.nan
    with pytest.raises(ValueError, match=r"`y` holds a non-finite value \(nan\) at row 3"):
        model.fit(x, y_bad, verbose=0)
    with pytest.raises(
        ValueError, match=r"`sample_weight` holds a non-finite value \(inf\) at row 0"
    ):
        model.fit(x, y, sample_weight=np.array([np.inf, 1, 1, 1, 1, 1]), verbose=0)
    x_bad = x.copy()
    x_bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="`x` holds a non-finite value"):
        model.evaluate(x_bad, y, verbose=0)
    with pytest.raises(ValueError, match="`x` holds a non-finite value"):
        model.predict(x_bad, verbose=0)
    with pytest.raises(ValueError, match="`x` holds a non-finite value"):
        model.fit(x, y, validation_data=(x_bad, y), verbose=0)


def test_a_non_finite_batch_from_a_generator_is_refused_with_its_step():
    model = _model()

    def batches():
        yield np.ones((2, 3), "float32"), np.ones(2)
        yield np.full((2, 3), np.nan, "float32"), np.ones(2)

    with pytest.raises(
        ValueError, match=r"Batch 1 from the data generator is malformed: `x` holds a non-finite"
    ):
        model.fit(batches(), epochs=1, verbose=0)


def test_integer_labels_with_categorical_crossentropy_suggest_the_sparse_loss():
    model = _model(units=3, loss="categorical_crossentropy", activation="softmax")
    with pytest.raises(
        ValueError,
        match=r"look like integer class labels\. Use loss='sparse_categorical_crossentropy'",
    ):
        model.fit(np.ones((4, 3), "float32"), np.array([0, 1, 2, 1]), verbose=0)


def test_binary_crossentropy_targets_outside_zero_one_are_refused():
    model = _model(loss="binary_crossentropy", activation="sigmoid")
    with pytest.raises(ValueError, match=r"needs targets in \[0, 1\].*range over \[0, 3\]"):
        model.fit(np.ones((4, 3), "float32"), np.array([0, 1, 2, 3]), verbose=0)


def test_numpy_integer_batch_size_is_accepted():
    model = _model()
    history = model.fit(np.ones((8, 3), "float32"), np.ones(8), batch_size=np.int64(4), verbose=0)
    assert len(history.history["loss"]) == 1


def test_a_validation_split_without_validation_rows_names_the_sizes():
    model = _model()
    with pytest.raises(
        ValueError,
        match=r"validation_split=0\.5 of 1 samples leaves 0 for training and 1 for validation",
    ):
        model.fit(np.ones((1, 3), "float32"), np.ones(1), validation_split=0.5, verbose=0)
    with pytest.raises(
        ValueError, match=r"validation_split=0\.9 of 5 samples leaves 0 for training and 5"
    ):
        model.fit(np.ones((5, 3), "float32"), np.ones(5), validation_split=0.9, verbose=0)


def test_duplicate_layer_names_are_refused_as_keras_does():
    with pytest.raises(ValueError, match=r'The name "twin" is used 2 times'):
        keras.Sequential(
            [keras.Input(shape=(3,)), layers.Dense(2, name="twin"), layers.Dense(1, name="twin")]
        )
    x = keras.Input(shape=(3,))
    with pytest.raises(ValueError, match=r'The name "same" is used 2 times in the model'):
        keras.Model(x, layers.Dense(1, name="same")(layers.Dense(2, name="same")(x)))


class _Boom(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            raise RuntimeError("callback failed")


def test_on_train_end_runs_when_a_callback_or_the_data_raises(tmp_path):
    model = _model()
    log = tmp_path / "log.csv"
    ended = []
    closing = keras.callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(logs))
    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(
            np.ones((8, 3), "float32"),
            np.ones(8),
            batch_size=2,
            verbose=0,
            callbacks=[_Boom(), closing, keras.callbacks.CSVLogger(str(log))],
        )
    assert len(ended) == 1

    def failing():
        yield np.ones((2, 3), "float32"), np.ones(2)
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        model.fit(failing(), epochs=1, verbose=0, callbacks=[closing])
    assert len(ended) == 2


def test_a_finite_loss_with_a_non_finite_gradient_is_not_applied():
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse")
    step = model._training_step()
    buf = step.prepare()
    original = step.compute_gradients

    def poisoned(xs, ys, sws):
        loss, per_output, outs = original(xs, ys, sws)
        buf.grads[0] = np.nan
        return loss, per_output, outs

    step.compute_gradients = poisoned
    before = model.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = model.train_on_batch(np.ones((2, 1), "float32"), np.ones(2))
    assert np.isnan(loss)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dataframe_columns_are_kept_and_checked_at_predict():
    pd = pytest.importorskip("pandas")
    model = _model()
    frame = pd.DataFrame(np.ones((4, 3), "float32"), columns=["a", "b", "c"])
    model.fit(frame, np.ones(4), verbose=0)
    assert model.feature_names_in_ == ["a", "b", "c"]
    assert model.predict(frame, verbose=0).shape == (4, 1)
    with pytest.raises(ValueError, match=r"missing \['c'\], unexpected \['d'\]"):
        model.predict(frame.rename(columns={"c": "d"}), verbose=0)
    with pytest.raises(ValueError, match="the same names in another order"):
        model.evaluate(frame[["c", "b", "a"]], np.ones(4), verbose=0)

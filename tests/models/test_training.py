import math
import os
import signal
import threading
import warnings

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers


def _regression_data(n=10000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 100, size=(n, 3)).astype(np.float32)
    return x, x @ np.array([1.0, 2.0, 3.0], dtype=np.float32)


def test_xor_reaches_low_loss():
    keras.utils.set_random_seed(1)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = keras.Sequential(
        [
            keras.Input(shape=(2,)),
            layers.Dense(4, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=500, batch_size=4, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss < 0.01 and acc == 1.0


def test_tutorial_regression_learns_the_coefficients():
    x, y = _regression_data()
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse", metrics=["r2_score"])
    model.fit(x[:9000], y[:9000], epochs=15, batch_size=32, verbose=0)
    _, r2 = model.evaluate(x[9000:], y[9000:], verbose=0)
    assert r2 > 0.999
    np.testing.assert_allclose(model.layers[0].get_weights()[0][:, 0], [1, 2, 3], atol=0.01)


@pytest.mark.slow
def test_digits_mlp_reaches_96_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x, y = digits.data.astype(np.float32) / 16.0, digits.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:cut], y[:cut], epochs=40, batch_size=32, verbose=0)
    _, acc = model.evaluate(x[cut:], y[cut:], verbose=0)
    assert acc >= 0.96


def test_breast_cancer_binary_classification():
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer()
    x, y = data.data.astype(np.float32), data.target.astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    norm = layers.Normalization()
    norm.adapt(x[:cut])
    model = keras.Sequential(
        [
            keras.Input(shape=(30,)),
            norm,
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "auc"])
    model.fit(x[:cut], y[:cut], epochs=30, batch_size=32, verbose=0)
    logs = model.evaluate(x[cut:], y[cut:], verbose=0, return_dict=True)
    assert logs["accuracy"] >= 0.95 and logs["auc"] > 0.97


def test_same_seed_gives_identical_weights_and_history():
    def run():
        keras.utils.set_random_seed(42)
        x = np.random.rand(200, 5).astype(np.float32)
        y = (x.sum(axis=1) > 2.5).astype(np.float32)
        model = keras.Sequential(
            [
                keras.Input(shape=(5,)),
                layers.Dense(8, activation="relu"),
                layers.Dropout(0.2),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        return model.get_weights(), history.history

    w1, h1 = run()
    w2, h2 = run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_validation_split_takes_the_last_samples_before_shuffling():
    seen = []
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mae")
    step = model._training_step()
    original = step.train_batch

    def recording(xs, ys, sws, distribution=None):
        seen.extend(xs[0][:, 0].tolist())
        return original(xs, ys, sws, distribution)

    step.train_batch = recording
    history = model.fit(x, x, validation_split=0.3, epochs=1, batch_size=4, verbose=0)
    assert sorted(seen) == list(range(7))
    assert "val_loss" in history.history


def test_epoch_metrics_are_exact_over_all_samples():
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((37, 3)).astype(np.float32),
        rng.integers(0, 2, 37).astype(np.float32),
    )
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(
        optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy", metrics=["accuracy", "mae"]
    )
    history = model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False)
    p = model.predict(x, verbose=0)[:, 0]
    assert history.history["accuracy"][0] == pytest.approx(np.mean((p > 0.5) == (y > 0.5)))
    assert history.history["mae"][0] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-5)


def test_last_partial_batch_is_kept():
    steps = []
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    model.fit(np.zeros((10, 1)), np.zeros(10), batch_size=4, verbose=0, callbacks=[cb])
    assert steps == [0, 1, 2]


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    x, y = _regression_data(500)
    frame = pd.DataFrame(x, columns=["x", "y", "z"])
    model = keras.Sequential([layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(frame, pd.Series(y), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert model.predict(frame, verbose=0).shape == (500, 1)


def test_generator_inputs():
    def batches():
        rng = np.random.default_rng(0)
        while True:
            x = rng.standard_normal((8, 2)).astype(np.float32)
            yield x, x.sum(axis=1, keepdims=True)

    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(batches(), steps_per_epoch=20, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(batches(), steps=5, verbose=0) < 0.5


def test_malformed_generator_batch():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        ValueError,
        match=r"must yield \(x, y\) or \(x, y, sample_weight\) tuples; batch 0 was a ndarray of "
              r"shape \(4, 2\)",
    ):
        model.fit(iter([np.zeros((4, 2))]), epochs=1, verbose=0)
    with pytest.raises(
        ValueError,
        match=r"Batch 0 from the data generator is malformed: .*x and y must have the same "
              r"number of samples",
    ):
        model.fit(iter([(np.zeros((4, 2)), np.zeros(3))]), epochs=1, verbose=0)


def test_sample_and_class_weights():
    x = np.array([[0.0], [1.0]], dtype=np.float32)
    y = np.array([0.0, 1.0], dtype=np.float32)
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    # predictions are 0: per-sample losses 0 and 1
    assert model.evaluate(x, y, sample_weight=np.array([1.0, 3.0]), verbose=0) == pytest.approx(1.5)
    history = model.fit(x, y, class_weight={0: 1.0, 1: 5.0}, batch_size=2, verbose=0)
    assert history.history["loss"][0] == pytest.approx(2.5)


def test_train_test_predict_on_batch():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    x, y = np.ones((4, 2)), np.full((4, 1), 3.0)
    first = model.test_on_batch(x, y)
    for _ in range(20):
        model.train_on_batch(x, y)
    assert model.test_on_batch(x, y)[0] < first[0]
    assert model.train_on_batch(x, y, return_dict=True).keys() == {"loss", "mae"}
    assert model.predict_on_batch(x).shape == (4, 1)


def test_overflowing_loss_is_reported_and_never_applied():
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1.0], [1e30]], dtype=np.float32)  # finite, but its squared error is not
    before = model.get_weights()
    with pytest.warns(
        RuntimeWarning, match=r"Loss became inf at epoch 1, batch 1: that update was skipped"
    ):
        model.fit(x, np.ones(2), batch_size=1, shuffle=False, verbose=0)
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    assert not np.array_equal(before[0], after[0])  # the first, finite step was applied


def test_terminate_on_nan_stops_with_the_last_finite_weights():
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 1), dtype=np.float32)
    x[3] = 1e30
    snapshots = []
    keep = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: snapshots.append(model.get_weights())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(
            x,
            np.ones(8),
            batch_size=1,
            epochs=5,
            shuffle=False,
            verbose=0,
            callbacks=[keep, keras.callbacks.TerminateOnNaN()],
        )
    assert len(history.history["loss"]) == 1 and len(snapshots) == 4
    for a, b in zip(snapshots[2], model.get_weights()):  # the bad step changed nothing
        np.testing.assert_array_equal(a, b)


def _interrupt_after(model, epochs_done, at_batch):
    class Interrupter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.snapshot = None

        def on_train_batch_end(self, batch, logs=None):
            if len(self.model.history.epoch) == epochs_done and batch == at_batch:
                os.kill(os.getpid(), signal.SIGINT)
                self.snapshot = self.model.get_weights()

    return Interrupter()


def test_keyboard_interrupt_keeps_model_and_history():
    assert threading.current_thread() is threading.main_thread()
    handler_before = signal.getsignal(signal.SIGINT)
    x, y = _regression_data(640)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    spy = _interrupt_after(model, epochs_done=2, at_batch=5)
    ended = []
    with pytest.raises(KeyboardInterrupt, match="2 completed epoch"):
        model.fit(
            x,
            y,
            epochs=10,
            batch_size=32,
            verbose=0,
            callbacks=[
                spy,
                keras.callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(1)),
            ],
        )
    assert ended == [1]
    assert len(model.history.history["loss"]) == 2
    for a, b in zip(spy.snapshot, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(model.predict(x[:4], verbose=0)).all()
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_fit_errors():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1, name="out")])
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before `fit\(\)`"):
        model.fit(np.zeros((4, 3)), np.zeros(4))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        ValueError, match=r"x and y must have the same number of samples, but received x: 4, y: 5"
    ):
        model.fit(np.zeros((4, 3)), np.zeros(5), verbose=0)
    with pytest.raises(
        ValueError,
        match=r"Layer 'out' of Sequential model .* expects inputs whose last dimension is 3, "
              r"but received shape \(4, 2\)",
    ):
        model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    with pytest.raises(
        ValueError, match=r"`batch_size` must be a positive integer; received batch_size=0"
    ):
        model.fit(np.zeros((4, 3)), np.zeros(4), batch_size=0, verbose=0)
    with pytest.raises(
        ValueError, match=r"`validation_split` must be in \[0, 1\); received validation_split=1.0"
    ):
        model.fit(np.zeros((4, 3)), np.zeros(4), validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="The data set is empty: x has 0 samples"):
        model.fit(np.zeros((0, 3)), np.zeros(0), verbose=0)
    with pytest.raises(TypeError, match=r"`x` holds strings \(dtype <U1, shape \(1, 3\)\), "
                       r"but input '.*' of model '.*' takes float32 numbers. Declare the input"):
        model.fit(np.array([["a", "b", "c"]]), np.zeros(1), verbose=0)


def test_sparse_labels_out_of_range_during_fit():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels outside \[0, 2\] for 3 classes: \[5\]"):
        model.fit(np.zeros((4, 2)), np.array([0, 1, 5, 2]), verbose=0)


def test_fused_softmax_cross_entropy_matches_unfused_gradient(float64):
    from npkeras.utils.gradcheck import check_model_gradients

    rng = np.random.default_rng(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(5, activation="tanh"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert model._training_step().fused[0] is not None
    y = np.eye(3)[rng.integers(0, 3, 6)]
    assert check_model_gradients(model, rng.standard_normal((6, 4)), y) < 1e-6
    binary = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1, activation="sigmoid")])
    binary.compile(optimizer="sgd", loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1))
    assert binary._training_step().fused[0] is not None
    assert (
        check_model_gradients(binary, rng.standard_normal((6, 4)), rng.integers(0, 2, (6, 1)))
        < 1e-6
    )


def test_regularization_is_part_of_loss_and_gradient(float64):
    from npkeras.utils.gradcheck import check_model_gradients

    rng = np.random.default_rng(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            layers.Dense(
                4,
                activation="tanh",
                kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02),
                activity_regularizer=keras.regularizers.L2(0.05),
            ),
            layers.Dense(1, bias_regularizer="l2"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    assert check_model_gradients(model, x, y) < 1e-6
    plain = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert model.evaluate(x, y, verbose=0) > plain


def test_keras_style_script_runs_unchanged():
    import npkeras as keras  # noqa: F811 - as a user script would

    (x_train, y_train) = (np.random.rand(300, 8).astype("float32"), np.random.randint(0, 3, 300))
    model = keras.Sequential(
        [
            keras.layers.Input(shape=(8,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_split=0.1, verbose=0)
    score = model.evaluate(x_train, y_train, verbose=0)
    predictions = model.predict(x_train[:5], verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(score) == 2 and predictions.shape == (5, 3)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-5)
    assert math.isfinite(score[0])

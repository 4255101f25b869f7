"""callbacks.GradientStats and utils.plot_gradient_flow."""

import numpy as np
import pytest

import npkeras as keras


def test_norms_equal_a_hand_computation(rng):
    # one linear Dense, mse, plain SGD, two batches of 3 in order: every step by hand
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w, b = (v.astype(np.float64) for v in model.layers[0].get_weights())
    history = model.fit(
        x,
        y,
        batch_size=3,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.GradientStats()],
    )
    for epoch in range(2):
        norms = []
        for start in (0, 3):
            xb, yb = x[start : start + 3], y[start : start + 3]
            residual = xb @ w + b - yb
            dw, db = 2 / 3 * xb.T @ residual, 2 / 3 * residual.sum(axis=0)
            norms.append(np.sqrt((dw**2).sum() + (db**2).sum()))
            w, b = w - 0.1 * dw, b - 0.1 * db
        assert history.history["out/grad_norm"][epoch] == pytest.approx(np.mean(norms), rel=1e-5)
        weight_norm = np.sqrt((w**2).sum() + (b**2).sum())
        assert history.history["out/weight_norm"][epoch] == pytest.approx(weight_norm, rel=1e-5)


def test_every_trainable_layer_is_logged_and_frozen_ones_are_not(rng):
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(4, name="hidden"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(1, name="frozen", trainable=False),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(
        rng.standard_normal((8, 3)),
        rng.standard_normal(8),
        epochs=3,
        verbose=0,
        callbacks=[keras.callbacks.GradientStats()],
    )
    keys = [k for k in history.history if "/" in k]
    assert keys == ["hidden/grad_norm", "hidden/weight_norm"]
    assert all(v > 0 for v in history.history["hidden/grad_norm"])


def test_plot_gradient_flow_draws_one_line_per_layer(rng, tmp_path):
    pytest.importorskip("matplotlib")
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(4, activation="tanh", name="a"),
            keras.layers.Dense(1, name="b"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(
        rng.standard_normal((8, 3)),
        rng.standard_normal(8),
        epochs=3,
        verbose=0,
        callbacks=[keras.callbacks.GradientStats()],
    )
    fig = keras.utils.plot_gradient_flow(history, path=tmp_path / "flow.png")
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["a", "b"]
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), history.history["a/grad_norm"])
    ratio = history.history["b/grad_norm"][-1] / history.history["b/weight_norm"][-1]
    assert right.patches[1].get_height() == pytest.approx(ratio)
    assert (tmp_path / "flow.png").stat().st_size > 1000


def test_plot_gradient_flow_without_stats_raises():
    with pytest.raises(ValueError, match=r"callbacks=\[keras.callbacks.GradientStats\(\)\]"):
        keras.utils.plot_gradient_flow({"loss": [1.0]})

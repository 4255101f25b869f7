"""The tutorial end to end: data, the two models, coefficients, large-input validation,
save/load and pictures. ``npkeras demo`` (and ``make demo``) run :func:`run`."""

from __future__ import annotations

import os
import time

import npkeras as keras
from npkeras.backend import host_xp
from npkeras.datasets import numbers
from npkeras.utils import plots


def r2_score(y_true, y_pred) -> float:
    """1 - SS_res / SS_tot."""
    y_true, y_pred = (
        host_xp.asarray(y_true, "float64").reshape(-1),
        host_xp.asarray(y_pred, "float64").reshape(-1),
    )
    return float(1 - ((y_true - y_pred) ** 2).sum() / ((y_true - y_true.mean()) ** 2).sum())


def _mse(y_true, y_pred) -> float:
    return float(
        (
            (
                host_xp.asarray(y_true, "float64").reshape(-1)
                - host_xp.asarray(y_pred, "float64").reshape(-1)
            )
            ** 2
        ).mean()
    )


def run(out: str = "npkeras-demo", seed: int = 0, quick: bool = False, print_fn=print) -> dict:
    """Run the demo, write files under ``out``, print a report; returns the key results."""
    started = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    epochs1, epochs2 = (10, 20) if quick else (30, 25)
    keras.utils.set_random_seed(seed)
    results: dict = {"files": {}}

    def say(text=""):
        print_fn(text)

    say("npkeras demo: the tutorial's experiment, target = x + 2y + 3z")
    say("=" * 64)
    # 1. Data -------------------------------------------------------------------------
    x_all, y_all = numbers.make(10000, 0, 100, seed=seed)
    csv_path = numbers.write_csv(os.path.join(out, "numbers.csv"), x_all, y_all)
    table = numbers.load_csv(csv_path, target="target")
    x, y = table.features, table.target.astype("float32")
    x_train, y_train, x_test, y_test = x[:9000], y[:9000], x[9000:], y[9000:]
    results["files"]["data"] = csv_path
    say(f"1. Data: 10,000 rows of integers in [0, 100) written to {csv_path} and read back;")
    say("   first 9,000 rows train, last 1,000 test.")

    # 2. Model 1: Dense(4, relu) -> Dense(3), prediction = mean of the three outputs --
    model1 = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)],
        name="tutorial_model_1",
    )
    model1.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse")
    history1 = model1.fit(
        x_train, y_train, epochs=epochs1, batch_size=32, validation_split=0.1, verbose=0
    )
    pred1 = model1.predict(x_test, verbose=0).mean(axis=1)
    head = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)],
        name="keras_style_head",
    )
    head.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse")
    head.fit(x_train, y_train, epochs=epochs1, batch_size=32, verbose=0)
    pred_head = head.predict(x_test, verbose=0)
    results["model1"] = {
        "mse": _mse(y_test, pred1),
        "r2": r2_score(y_test, pred1),
        "head_mse": _mse(y_test, pred_head),
        "head_r2": r2_score(y_test, pred_head),
    }
    say(
        "2. Model 1: Dense(4, relu) -> Dense(3), prediction = mean of the 3 outputs (the "
        "tutorial's reading)"
    )
    say(f"   test MSE {results['model1']['mse']:.3g}, R² {results['model1']['r2']:.6f}")
    say(
        f"   Keras-style Dense(1) head: test MSE {results['model1']['head_mse']:.3g}, "
        f"R² {results['model1']['head_r2']:.6f}"
    )

    # 3. Model 2: a single Dense layer of 3 linear neurons --------------------------
    model2 = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(3)], name="tutorial_model_2"
    )
    model2.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history2 = model2.fit(
        x_train, y_train, epochs=epochs2, batch_size=32, validation_split=0.1, verbose=0
    )
    kernel, bias = model2.layers[0].get_weights()
    say(
        "3. Model 2: one Dense layer of 3 linear neurons; each should learn weights (1, 2, 3), "
        "bias 0"
    )
    coef_ok = True
    for j in range(3):
        w = kernel[:, j]
        ok = bool(
            (abs(w - host_xp.asarray(numbers.COEFFICIENTS)) <= 0.01).all() and abs(bias[j]) <= 0.5
        )
        coef_ok &= ok
        say(
            f"   neuron {j}: weights ({w[0]:.4f}, {w[1]:.4f}, {w[2]:.4f}), bias {bias[j]:+.4f}"
            f"  {'ok' if ok else 'off'}"
        )
    results["coefficients_ok"] = coef_ok
    say(
        f"   coefficient check (weights within 0.01 of 1, 2, 3; biases within 0.5 of 0): "
        f"{'PASSED' if coef_ok else 'FAILED'}"
    )

    # 4. Validation on far larger inputs -------------------------------------------
    x_high, y_high = numbers.make(100, 5000, 10000, seed=seed + 1)
    pred_high = model2.predict(x_high.astype("float32"), verbose=0).mean(axis=1)
    r2_high = r2_score(y_high, pred_high)
    results["r2_high"] = r2_high
    results["r2_high_ok"] = r2_high >= 0.9999
    say("4. Validation on 100 samples with features in [5000, 10000), far outside training:")
    say(f"   R² {r2_high:.7f} (needs >= 0.9999): {'PASSED' if results['r2_high_ok'] else 'FAILED'}")
    for i in range(3):
        say(
            f"   x={tuple(int(v) for v in x_high[i])}: predicted {pred_high[i]:.1f}, true "
            f"{int(y_high[i])}"
        )

    # 5. Save and load --------------------------------------------------------------
    model_path = os.path.join(out, "model2.npkeras")
    model2.save(model_path)
    loaded = keras.models.load_model(model_path)
    identical = bool(
        (loaded.predict(x_high.astype("float32"), verbose=0).mean(axis=1) == pred_high).all()
    )
    results["reload_identical"] = identical
    results["files"]["model"] = model_path
    say(f"5. Saved model 2 to {model_path}, loaded it back: predictions identical: {identical}")

    # 6. Pictures -------------------------------------------------------------------
    try:
        pictures = {
            "loss_model1": plots.plot_history(
                history1, title="Model 1 (4 relu -> 3)", path=os.path.join(out, "loss_model1.png")
            ),
            "loss_model2": plots.plot_history(
                history2, title="Model 2 (3 linear)", path=os.path.join(out, "loss_model2.png")
            ),
            "predictions_high": plots.plot_predictions(
                y_high,
                pred_high,
                "Model 2 on inputs in [5000, 10000)",
                path=os.path.join(out, "predictions_high.png"),
            ),
            "activations_model1": plots.plot_activations(
                model1,
                x_test,
                feature_names=table.feature_names,
                path=os.path.join(out, "activations_model1.png"),
            ),
        }
        import matplotlib.pyplot as plt

        for name, fig in pictures.items():
            results["files"][name] = os.path.join(out, f"{name}.png")
            plt.close(fig)
        say("6. Pictures: " + ", ".join(results["files"][n] for n in pictures))
    except ImportError:
        say("6. Pictures skipped: matplotlib is not installed (pip install npkeras[plot]).")
    results["seconds"] = time.perf_counter() - started
    say("=" * 64)
    say(f"Done in {results['seconds']:.1f} s. Files are in {os.path.abspath(out)}")
    return results

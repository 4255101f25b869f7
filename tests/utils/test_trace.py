"""model.trace_step, its table, dict and picture, and `npkeras trace`."""

import json

import numpy as np
import pytest

import npkeras as keras
from npkeras import cli
from npkeras.utils.trace import CHAIN_RULES, chain_rule, format_trace


def _linear_model(w, b, lr=0.1):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    model.layers[0].set_weights([w, b])
    return model


def test_one_layer_numbers_equal_a_hand_computation(rng):
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    w, b = np.array([[0.5], [-1.0]]), np.array([0.25])
    model = _linear_model(w, b)
    trace = model.trace_step(x, y, verbose=0)
    z = x @ w + b
    dz = 2 / 4 * (z - y)  # d mse / d prediction
    dw, db = x.T @ dz, dz.sum(axis=0)  # dL/dW = x.T @ dL/dz
    assert trace["loss"] == pytest.approx(np.mean((z - y) ** 2), rel=1e-5)
    (fwd,), (bwd,) = trace["forward"], trace["backward"]
    assert fwd["input_shape"] == (4, 2) and fwd["output_shape"] == (4, 1)
    assert fwd["activation_mean"] == pytest.approx(z.mean(), rel=1e-5)
    assert fwd["activation_std"] == pytest.approx(z.std(), rel=1e-5)
    assert bwd["grad_output_norm"] == pytest.approx(np.linalg.norm(dz), rel=1e-5)
    assert bwd["grad_norms"]["kernel"] == pytest.approx(np.linalg.norm(dw), rel=1e-5)
    assert bwd["grad_norms"]["bias"] == pytest.approx(np.linalg.norm(db), rel=1e-5)
    # SGD: the update is lr * dL/dW, so the ratio is lr * ||dL/dW|| / ||W||
    assert bwd["update_ratios"]["kernel"] == pytest.approx(
        0.1 * np.linalg.norm(dw) / np.linalg.norm(w), rel=1e-5
    )
    np.testing.assert_allclose(bwd["kernel_grad"], np.abs(dw), rtol=1e-5)
    assert bwd["chain_rule"].startswith("dL/dz = dL/dy (linear); dL/dW = x.T @ dL/dz")
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], w.astype(np.float32))


def _adam_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_tracing_changes_nothing(rng):
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    traced, plain = _adam_model(), _adam_model()
    for model in (traced, plain):
        keras.utils.set_random_seed(4)
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    # weights, Adam's moments and step count, and dropout's generator are all restored:
    # training after a trace is bit for bit training without one
    keras.utils.set_random_seed(5)
    trace = traced.trace_step(x, y, verbose=0)
    assert traced.optimizer.iterations == 4
    traced.fit(x, y, epochs=2, batch_size=4, verbose=0)
    keras.utils.set_random_seed(5)
    plain.fit(x, y, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(traced.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["layer"] for r in trace["forward"]] == [layer.name for layer in traced.layers]
    assert [r["layer"] for r in trace["backward"]] == [layer.name for layer in traced.layers[::-1]]
    assert "fused with the loss" in trace["backward"][0]["chain_rule"]
    assert trace["backward"][1]["chain_rule"] == CHAIN_RULES["Dropout"]


def test_dead_units_are_counted(rng):
    model = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    kernel, _ = model.layers[0].get_weights()
    model.layers[0].set_weights([kernel, np.array([-100.0, -100.0, -100.0, 0.0])])
    trace = model.trace_step(rng.standard_normal((8, 2)), rng.standard_normal(8), verbose=0)
    assert trace["forward"][0]["dead_fraction"] == 0.75
    hidden = trace["backward"][1]
    assert "relu'(z)" in hidden["chain_rule"]
    grad = np.array(hidden["kernel_grad"])
    np.testing.assert_array_equal(grad[:, :3], 0.0)  # dead units pass no gradient


def test_table_is_printed_in_forward_then_backward_order(rng, capsys):
    model = _linear_model(np.ones((2, 1)), np.zeros(1))
    trace = model.trace_step(rng.standard_normal((3, 2)), rng.standard_normal(3))
    printed = capsys.readouterr().out
    assert printed.strip() == format_trace(trace)
    assert printed.index("Forward (input -> output)") < printed.index("Backward (output -> input)")
    assert "chain rule: dL/dz = dL/dy (linear); dL/dW = x.T @ dL/dz" in printed
    model.trace_step(rng.standard_normal((3, 2)), rng.standard_normal(3), verbose=0)
    assert capsys.readouterr().out == ""


def test_chain_rule_texts():
    assert chain_rule(keras.layers.Dense(2, activation="tanh")).startswith(
        "dL/dz = dL/dy * tanh'(z)"
    )

    class Cube(keras.layers.Layer):
        chain_rule = "dL/dx = 3 x^2 * dL/dy"

    assert chain_rule(Cube()) == "dL/dx = 3 x^2 * dL/dy"
    assert "chain_rule" in chain_rule(keras.layers.Layer())  # unknown: says how to add one


def test_errors(rng):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before `trace_step\(\)`"):
        model.trace_step(np.ones((2, 2)), np.ones(2))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="trace_step needs targets `y`"):
        model.trace_step(np.ones((2, 2)), None)


def test_picture(rng, tmp_path):
    pytest.importorskip("matplotlib")
    model = _adam_model()
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    trace = model.trace_step(x, y, verbose=0, plot_path=tmp_path / "step.png")
    assert (tmp_path / "step.png").stat().st_size > 5000
    fig = keras.utils.plot_trace(trace)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3 * 5 + 5 * 2  # one edge per weight of each kernel
    widest = max(ax.get_lines(), key=lambda line: line.get_linewidth())
    assert widest.get_linewidth() == pytest.approx(3.6)  # the largest |dL/dW| of its layer
    with pytest.raises(ValueError, match="at least one trainable Dense layer"):
        keras.utils.plot_trace({"forward": [], "backward": [], "loss": 0.0})


@pytest.fixture
def saved_model(tmp_path, rng):
    x = rng.normal(size=(60, 3))
    data = tmp_path / "houses.csv"
    with open(data, "w") as f:
        f.write("rooms,age,distance,price\n")
        f.writelines(f"{r[0]},{r[1]},{r[2]},{100 + 30 * r[0] - 10 * r[1] + 5 * r[2]}\n" for r in x)
    model = tmp_path / "houses.npkeras"
    assert (
        cli.main(
            [
                "train",
                str(data),
                "--target",
                "price",
                "--epochs",
                "1",
                "--hidden",
                "4",
                "--out",
                str(model),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    return model, data


def test_cli_trace(saved_model, tmp_path, capsys):
    model, data = saved_model
    before = model.read_bytes()
    report = tmp_path / "step.json"
    code = cli.main(["trace", str(model), str(data), "--rows", "8", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    assert "One training step: batch 8" in out and "feature_scaling" in out
    assert "chain rule: dL/dz = dL/dy * relu'(z)" in out
    loaded = json.loads(report.read_text())
    layers = [r["layer"] for r in loaded["forward"]]
    assert layers[0] == "feature_scaling" and layers[2:] == ["prediction", "target_scaling"]
    assert [r["layer"] for r in loaded["backward"]] == layers[::-1]
    assert loaded["forward"][0]["input_shape"] == [8, 3]
    assert model.read_bytes() == before


def test_cli_trace_errors(saved_model, capsys):
    model, data = saved_model
    assert cli.main(["trace", str(model), str(data), "--rows", "0"]) == 2
    assert "--rows must be a positive integer; received 0." in capsys.readouterr().err


def test_update_ratio_of_an_all_zero_weight_is_none(rng, tmp_path):
    pytest.importorskip("matplotlib")
    model = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Dense(2, kernel_initializer="zeros")]
    )
    model.compile(optimizer="sgd", loss="mse")
    trace = model.trace_step(
        rng.standard_normal((4, 2)),
        rng.standard_normal((4, 2)),
        verbose=0,
        plot_path=tmp_path / "zero.png",
    )
    assert trace["backward"][0]["update_ratios"] == {"kernel": None, "bias": None}
    assert "kernel n/a, bias n/a" in format_trace(trace)


def test_plot_trace_refuses_a_branching_graph(rng):
    pytest.importorskip("matplotlib")
    inputs = keras.Input(shape=(3,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(2, name="b")(inputs)
    out = keras.layers.Dense(1, name="c")(keras.layers.Concatenate()([a, b]))
    model = keras.Model(inputs, out)
    model.compile(optimizer="sgd", loss="mse")
    trace = model.trace_step(rng.standard_normal((4, 3)), rng.standard_normal(4), verbose=0)
    assert [r["layer"] for r in trace["forward"]][-1] == "c"
    with pytest.raises(ValueError, match="chains of Dense layers.*layer 'b' does not take"):
        keras.utils.plot_trace(trace)


def test_cli_trace_needs_a_compiled_model_and_a_target(saved_model, tmp_path, capsys):
    _, data = saved_model
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.save(tmp_path / "bare.npkeras")
    assert cli.main(["trace", str(tmp_path / "bare.npkeras"), str(data)]) == 2
    assert "saved without a loss and optimizer (not compiled)" in capsys.readouterr().err
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "compiled.npkeras")
    assert cli.main(["trace", str(tmp_path / "compiled.npkeras"), str(data)]) == 2
    assert "does not record its target column; pass --target" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "trace",
                str(tmp_path / "compiled.npkeras"),
                str(data),
                "--target",
                "price",
                "--rows",
                "5",
            ]
        )
        == 0
    )
    assert "One training step: batch 5" in capsys.readouterr().out

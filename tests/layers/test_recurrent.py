"""Recurrent layers: shapes, gradients (finite differences, float64), Keras semantics
(masks, go_backwards, states, initial_state), configs, errors and small training runs."""

import json

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend
from npkeras.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
    TimeDistributed,
    layer_classes,
    rnn_base,
)
from npkeras.utils.gradcheck import numerical_gradient, relative_error
from tests.helpers import TOLERANCE, all_grads, all_params, check_layer

STEPS, FEATURES = 4, 3


@pytest.fixture
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


# -- check_layer: shapes, parameter counts, config round trip, gradients --------------------
@pytest.mark.parametrize(
    "make_layer, output_shape, params",
    [
        (lambda: SimpleRNN(2), (2,), 3 * 2 + 2 * 2 + 2),
        (lambda: SimpleRNN(2, return_sequences=True, go_backwards=True), (STEPS, 2), 12),
        (lambda: SimpleRNN(2, activation="relu", use_bias=False), (2,), 10),
        (lambda: LSTM(2), (2,), 4 * (3 * 2 + 2 * 2 + 2)),
        (lambda: LSTM(2, return_sequences=True), (STEPS, 2), 48),
        (lambda: LSTM(2, go_backwards=True, unit_forget_bias=False), (2,), 48),
        (lambda: LSTM(2, activation="softsign", recurrent_activation="hard_sigmoid"), (2,), 48),
        (lambda: GRU(2), (2,), 3 * (3 * 2 + 2 * 2) + 2 * 6),
        (lambda: GRU(2, return_sequences=True, go_backwards=True), (STEPS, 2), 42),
        (lambda: GRU(2, reset_after=False), (2,), 3 * (3 * 2 + 2 * 2 + 2)),
        (lambda: GRU(2, reset_after=False, return_sequences=True, use_bias=False), (STEPS, 2), 30),
        (lambda: GRU(2, reset_after=False, activation="selu"), (2,), 36),
        (lambda: RNN(SimpleRNNCell(2)), (2,), 12),
        (lambda: RNN([LSTMCell(2), GRUCell(3)], return_sequences=True), (STEPS, 3), 48 + 63),
        (
            lambda: RNN(
                StackedRNNCells([GRUCell(2, reset_after=False), SimpleRNNCell(2)]),
                go_backwards=True,
            ),
            (2,),
            36 + 10,
        ),
        (lambda: Bidirectional(LSTM(2)), (4,), 96),
        (lambda: Bidirectional(GRU(2, return_sequences=True), merge_mode="sum"), (STEPS, 2), 84),
        (
            lambda: Bidirectional(SimpleRNN(2, return_sequences=True), merge_mode="mul"),
            (STEPS, 2),
            24,
        ),
        (
            lambda: Bidirectional(
                LSTM(2), merge_mode="ave", backward_layer=GRU(2, go_backwards=True)
            ),
            (2,),
            48 + 42,
        ),
        (lambda: TimeDistributed(Dense(2)), (STEPS, 2), 8),
        (lambda: TimeDistributed(Dense(2, activation="tanh")), (STEPS, 2), 8),
    ],
)
def test_recurrent_layer_battery(make_layer, output_shape, params):
    check_layer(make_layer, (STEPS, FEATURES), output_shape, expected_params=params)


def test_time_distributed_rank4_input():
    check_layer(
        lambda: TimeDistributed(Dense(2)), (STEPS, 2, FEATURES), (STEPS, 2, 2), expected_params=8
    )


# -- gradients of layers with several inputs or outputs (states, masks) ---------------------
def _check_gradients(layer, x, initial_state=None, mask=None, seed=0):
    """Finite-difference check of dL/dx, dL/d(initial states) and every weight for
    ``L = sum_k sum(output_k * r_k)`` over every output (return_state gives several)."""

    def outputs():
        y = layer.forward(x, training=False, mask=mask, initial_state=initial_state)
        return y if isinstance(y, list) else [y]

    rng = np.random.default_rng(seed)
    rs = [rng.standard_normal(y.shape) for y in outputs()]

    def loss():
        return float(sum((y * r).sum() for y, r in zip(outputs(), rs)))

    outputs()
    layer.zero_grads()
    grads = layer.backward(rs if len(rs) > 1 else rs[0])
    grads = grads if isinstance(grads, list) else [grads]
    arrays = [x] + list(initial_state or [])
    errors = {
        f"input_{i}": relative_error(g, numerical_gradient(loss, a))
        for i, (a, g) in enumerate(zip(arrays, grads))
    }
    for name, value in all_params(layer).items():
        errors[name] = relative_error(all_grads(layer)[name], numerical_gradient(loss, value))
    for key, err in errors.items():
        assert err < TOLERANCE, f"{layer.name} gradient of {key}: {err:.3g}"
    assert len(grads) == len(arrays)


def _states(rng, sizes, batch=3):
    return [rng.standard_normal((batch, s)) for s in sizes]


MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: SimpleRNN(2, return_state=True),
        lambda: LSTM(2, return_state=True, return_sequences=True),
        lambda: LSTM(2, return_state=True, go_backwards=True),
        lambda: GRU(2, return_state=True, return_sequences=True),
        lambda: GRU(2, return_state=True, reset_after=False, go_backwards=True),
        lambda: RNN([LSTMCell(2), SimpleRNNCell(3)], return_state=True, return_sequences=True),
        lambda: Bidirectional(LSTM(2, return_state=True, return_sequences=True)),
        lambda: Bidirectional(GRU(2, return_state=True), merge_mode=None),
    ],
)
@pytest.mark.parametrize("with_mask", [False, True])
def test_gradients_of_states_masks_and_initial_state(make_layer, with_mask, float64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, STEPS, FEATURES))
    layer = make_layer()
    layer(x)
    sizes = (
        layer.forward_layer.state_size + layer.backward_layer.state_size
        if isinstance(layer, Bidirectional)
        else layer.state_size
    )
    mask = MASK if with_mask else None
    _check_gradients(layer, x, mask=mask)
    _check_gradients(layer, x, initial_state=_states(rng, sizes), mask=mask)


def test_gradient_with_none_for_unused_outputs(float64):
    x = np.random.default_rng(0).standard_normal((2, STEPS, FEATURES))
    layer = LSTM(2, return_state=True)
    out, h, c = layer(x)
    layer.zero_grads()
    dx_none = layer.backward([None, None, np.ones_like(c)])
    layer.zero_grads()
    dx_zero = layer.backward([np.zeros_like(out), np.zeros_like(h), np.ones_like(c)])
    np.testing.assert_allclose(dx_none, dx_zero)
    assert np.abs(dx_none).sum() > 0


def test_dropout_gradients_with_fixed_masks(float64):
    """Dropout masks are drawn once per call: with the generator re-seeded before each
    call, the training-mode function is deterministic and its gradients check out."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, STEPS, FEATURES))
    for layer in (
        LSTM(2, dropout=0.3, recurrent_dropout=0.4, return_sequences=True),
        GRU(2, dropout=0.3, recurrent_dropout=0.4),
        GRU(2, recurrent_dropout=0.5, reset_after=False),
        SimpleRNN(2, dropout=0.2, recurrent_dropout=0.2),
    ):
        layer(x)
        r = rng.standard_normal(layer.compute_output_shape(x.shape)[1:])

        def loss(layer=layer, r=r):
            layer.cell._rng = np.random.default_rng(5)
            return float((layer.forward(x, training=True) * r).sum())

        loss()
        layer.zero_grads()
        dx = layer.backward(np.broadcast_to(r, (3,) + r.shape))
        assert relative_error(dx, numerical_gradient(loss, x)) < TOLERANCE
        for name, value in all_params(layer).items():
            assert (
                relative_error(all_grads(layer)[name], numerical_gradient(loss, value)) < TOLERANCE
            )
        assert not np.allclose(layer.forward(x, training=True), layer.forward(x))


# -- Keras semantics ----------------------------------------------------------------------
def _numpy_lstm(x, kernel, recurrent, bias, h, c):
    """Keras's LSTM equations, one step at a time (gate order i, f, c, o)."""

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    return h, c


def test_lstm_matches_the_keras_equations(float64):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    layer = LSTM(4, return_state=True, bias_initializer="random_normal")
    _, h, c = layer(x)
    _, h, c = layer.forward(x, initial_state=[h0, c0])
    expected_h, expected_c = _numpy_lstm(x, *layer.get_weights(), h0, c0)
    np.testing.assert_allclose(h, expected_h, atol=1e-12)
    np.testing.assert_allclose(c, expected_c, atol=1e-12)


def test_weight_shapes_and_names_follow_keras():
    x = np.ones((2, 5, 3), "float32")
    lstm, gru, gru_v1 = LSTM(4), GRU(4), GRU(4, reset_after=False)
    for layer in (lstm, gru, gru_v1):
        layer(x)
    assert [v.path for v in lstm.weights] == [
        f"{lstm.cell.name}/{k}" for k in ("kernel", "recurrent_kernel", "bias")
    ]
    assert [w.shape for w in lstm.get_weights()] == [(3, 16), (4, 16), (16,)]
    assert [w.shape for w in gru.get_weights()] == [(3, 12), (4, 12), (2, 12)]
    assert gru_v1.get_weights()[2].shape == (12,)
    np.testing.assert_array_equal(lstm.get_weights()[2], [0] * 4 + [1] * 4 + [0] * 8)
    recurrent = lstm.get_weights()[1]  # orthogonal: U U.T = I on the short side
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)
    bi = Bidirectional(LSTM(4))
    bi(x)
    assert bi.forward_layer.name.startswith("forward_") and bi.backward_layer.go_backwards
    assert len(bi.get_weights()) == 6


@pytest.mark.parametrize(
    "make_layer",
    [lambda: LSTM(3), lambda: GRU(3), lambda: SimpleRNN(3), lambda: GRU(3, reset_after=False)],
)
def test_masked_steps_carry_state_and_output(make_layer, float64):
    """A right-padded sample gives the output of its unpadded part; in a returned
    sequence the masked steps repeat the last output."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 3))
    layer = make_layer()
    layer(x)
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    y = layer.forward(x, mask=mask)
    np.testing.assert_allclose(y[1], layer.forward(x[1:, :4])[0], atol=1e-12)
    np.testing.assert_allclose(y[0], layer.forward(x[:1])[0], atol=1e-12)
    layer.return_sequences = True
    seq = layer.forward(x, mask=mask)
    np.testing.assert_allclose(seq[1, 4], seq[1, 3])
    np.testing.assert_allclose(seq[1, 5], seq[1, 3])
    assert layer.compute_mask(x, mask) is mask


def test_go_backwards_reads_the_reversed_sequence(float64):
    x = np.random.default_rng(5).standard_normal((2, 5, 3))
    forwards = GRU(3, return_sequences=True)
    backwards = GRU(3, return_sequences=True, go_backwards=True)
    forwards(x)
    backwards(x)
    backwards.set_weights(forwards.get_weights())
    np.testing.assert_allclose(backwards.forward(x), forwards.forward(x[:, ::-1]))


def test_stateful_layer_continues_across_calls(float64):
    x = np.random.default_rng(6).standard_normal((2, 6, 3))
    whole = LSTM(3, return_state=True)
    stateful = LSTM(3, stateful=True)
    whole(x)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_states()
    stateful.forward(x[:, :3])
    second = stateful.forward(x[:, 3:])
    out, _, c = whole.forward(x)
    np.testing.assert_allclose(second, out, atol=1e-12)
    np.testing.assert_allclose(stateful.states[1], c, atol=1e-12)
    stateful.reset_states()
    assert not np.any(stateful.states[0]) and not np.any(stateful.states[1])
    np.testing.assert_allclose(stateful.forward(x[:, :3]), whole.forward(x[:, :3])[0])


def test_stateful_bidirectional_resets_both_halves(float64):
    x = np.random.default_rng(12).standard_normal((2, 4, 3))
    layer = Bidirectional(GRU(2, stateful=True))
    first = layer(x)
    assert not np.allclose(layer.forward(x), first)  # the second call starts from states
    layer.reset_states()
    np.testing.assert_allclose(layer.forward(x), first)


def test_initial_state_through_list_inputs(float64):
    rng = np.random.default_rng(7)
    x, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
    layer = GRU(4)
    y = layer([x, h0])
    np.testing.assert_allclose(y, layer.forward(x, initial_state=[h0]))
    assert not np.allclose(y, layer.forward(x))


def test_functional_model_with_initial_state_and_states():
    inputs = keras.Input((5, 3))
    h0, c0 = keras.Input((4,)), keras.Input((4,))
    out, h, c = LSTM(4, return_state=True)([inputs, h0, c0])
    assert out.shape == (None, 4) and h.shape == (None, 4) and c.shape == (None, 4)


def test_bidirectional_merge_modes_agree(float64):
    x = np.random.default_rng(8).standard_normal((2, 5, 3))
    layers = {
        mode: Bidirectional(SimpleRNN(2, return_sequences=True), merge_mode=mode)
        for mode in ("concat", "sum", "mul", "ave", None)
    }
    for layer in layers.values():
        layer(x)
        layer.set_weights(layers["concat"].get_weights())
    y_f, y_b = layers[None].forward(x)
    np.testing.assert_allclose(layers["concat"].forward(x), np.concatenate([y_f, y_b], -1))
    np.testing.assert_allclose(layers["sum"].forward(x), y_f + y_b)
    np.testing.assert_allclose(layers["mul"].forward(x), y_f * y_b)
    np.testing.assert_allclose(layers["ave"].forward(x), (y_f + y_b) / 2)
    # the backward half, flipped back, describes input step t at position t
    reference = SimpleRNN(2, return_sequences=True)
    reference(x)
    reference.set_weights(layers[None].backward_layer.get_weights())
    np.testing.assert_allclose(y_b, reference.forward(x[:, ::-1])[:, ::-1])
    assert layers[None].compute_output_shape((None, 5, 3)) == [(None, 5, 2), (None, 5, 2)]


def test_bidirectional_zeroes_masked_steps_of_sequences(float64):
    x = np.random.default_rng(9).standard_normal((2, 4, 3))
    layer = Bidirectional(LSTM(2, return_sequences=True))
    layer(x)
    y = layer.forward(x, mask=MASK[:2])
    np.testing.assert_array_equal(y[1, 2:], 0.0)
    assert np.all(y[1, :2] != 0)


def test_config_round_trip_keeps_every_argument():
    layers = [
        LSTM(
            5,
            activation="relu",
            recurrent_activation="hard_sigmoid",
            use_bias=False,
            unit_forget_bias=False,
            kernel_regularizer="l2",
            dropout=0.1,
            recurrent_dropout=0.2,
            seed=3,
            return_sequences=True,
            return_state=True,
            go_backwards=True,
            stateful=True,
            unroll=True,
            name="my_lstm",
        ),
        GRU(4, reset_after=False, recurrent_initializer="glorot_uniform"),
        SimpleRNN(3, bias_regularizer="l1"),
        RNN([LSTMCell(2), GRUCell(3, reset_after=False)], return_sequences=True),
        Bidirectional(GRU(2), merge_mode=None, backward_layer=SimpleRNN(2, go_backwards=True)),
        TimeDistributed(Dense(3, activation="relu")),
    ]
    for layer in layers:
        config = json.loads(json.dumps(layer.get_config()))
        twin = layer_classes()[type(layer).__name__].from_config(config)
        assert json.loads(json.dumps(twin.get_config())) == config
    config = layers[0].get_config()
    assert config["units"] == 5 and config["unit_forget_bias"] is False
    assert config["activation"] == "relu" and config["stateful"] is True


def test_keras_defaults():
    layer = LSTM(3)
    assert layer.activation.name == "tanh" and layer.recurrent_activation.name == "sigmoid"
    assert layer.unit_forget_bias and not layer.return_sequences and not layer.go_backwards
    config = layer.get_config()
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert GRU(3).reset_after is True
    assert Bidirectional(LSTM(3)).merge_mode == "concat"
    # Keras's kernel choices are accepted (one NumPy kernel here) and not saved
    assert "use_cudnn" not in GRU(3, use_cudnn=False, implementation=1).get_config()


def test_model_with_recurrent_layers_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 6, 3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            Bidirectional(LSTM(4, return_sequences=True)),
            GRU(3, return_sequences=True),
            TimeDistributed(Dense(2)),
            RNN([SimpleRNNCell(2), LSTMCell(2)]),
        ]
    )
    assert model.count_params() == 256 + 117 + 8 + (10 + 40)  # Keras's counts
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((8, 2)), epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "rnn.npkeras")
    loaded = keras.models.load_model(tmp_path / "rnn.npkeras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_functional_model_trains_with_initial_state_inputs_and_state_outputs():
    rng = np.random.default_rng(11)
    inputs, h0, c0 = keras.Input((5, 3)), keras.Input((4,)), keras.Input((4,))
    out, _, c = LSTM(4, return_state=True)([inputs, h0, c0])
    model = keras.Model([inputs, h0, c0], [out, c])
    model.compile(optimizer="adam", loss="mse")
    data = [rng.standard_normal((6, 5, 3)), np.zeros((6, 4)), np.ones((6, 4))]
    before = model.evaluate(data, [np.zeros((6, 4)), np.zeros((6, 4))], verbose=0)
    model.fit(data, [np.zeros((6, 4)), np.zeros((6, 4))], epochs=20, verbose=0)
    after = model.evaluate(data, [np.zeros((6, 4)), np.zeros((6, 4))], verbose=0)
    assert np.ravel(after)[0] < np.ravel(before)[0]


# -- errors -------------------------------------------------------------------------------
def test_errors():
    x = np.ones((2, 5, 3), "float32")
    with pytest.raises(ValueError, match="invalid value for `units`.*Received: units=0"):
        LSTM(0)
    with pytest.raises(ValueError, match="invalid value for `dropout`.*Received: dropout=1.5"):
        GRU(2, dropout=1.5)
    with pytest.raises(ValueError, match="`recurrent_dropout`.*expected a float in"):
        SimpleRNN(2, recurrent_dropout=-0.1)
    with pytest.raises(TypeError, match="needs a built-in cell.*received Dense"):
        RNN(Dense(2))
    with pytest.raises(TypeError, match="StackedRNNCells .* non-empty list of built-in cells"):
        StackedRNNCells([])
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, features\)"):
        LSTM(2)(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="Invalid merge_mode .* 'max'"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(TypeError, match="wraps a recurrent layer .* received Dense"):
        Bidirectional(Dense(2))
    with pytest.raises(TypeError, match="`backward_layer` .* must be a recurrent layer"):
        Bidirectional(LSTM(2), backward_layer=Dense(2))
    with pytest.raises(ValueError, match="must have the same return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, return_sequences=True, go_backwards=True))
    with pytest.raises(ValueError, match="opposite directions; both have go_backwards=False"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match=r"rank 3 or more.*\(None, 3\)"):
        TimeDistributed(Dense(2))(np.ones((2, 3), "float32"))
    with pytest.raises(TypeError, match="TimeDistributed .* wraps a layer; received str"):
        TimeDistributed("dense")
    layer = LSTM(2)
    layer(x)
    with pytest.raises(ValueError, match=r"expects 2 initial state array\(s\).*received 1"):
        layer.forward(x, initial_state=[np.zeros((2, 2), "float32")])
    with pytest.raises(ValueError, match=r"initial state 1 of shape \(2, 2\).*\(2, 3\)"):
        layer.forward(x, initial_state=[np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"mask of shape \(batch, time\) = \(2, 5\)"):
        layer.forward(x, mask=np.ones((2, 4), bool))
    with pytest.raises(AttributeError, match="is not stateful"):
        layer.reset_states()
    stateful = GRU(2, stateful=True)
    stateful(x)
    with pytest.raises(ValueError, match="batches of 2 samples, but received a batch of 3"):
        stateful(np.ones((3, 5, 3), "float32"))
    with pytest.raises(ValueError, match="expects 4 initial state arrays"):
        Bidirectional(LSTM(2)).forward(x, initial_state=[np.zeros((2, 2))])


# -- training -----------------------------------------------------------------------------
def test_bidirectional_lstm_learns_a_task_needing_both_directions():
    """Each step's target is its two neighbours' sum: only a bidirectional layer sees the
    next step."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (512, 8, 1)).astype("float32")
    padded = np.pad(x[:, :, 0], ((0, 0), (1, 1)))
    y = (padded[:, :-2] + padded[:, 2:])[:, :, None]
    model = keras.Sequential(
        [
            keras.Input((8, 1)),
            Bidirectional(LSTM(8, return_sequences=True)),
            TimeDistributed(Dense(1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.01  # the variance of y is 0.67


def _adding_problem(n, steps, rng):
    values = rng.random((n, steps))
    markers = np.zeros((n, steps))
    first = rng.integers(0, steps // 2, n)
    second = rng.integers(steps // 2, steps, n)
    markers[np.arange(n), first] = markers[np.arange(n), second] = 1
    x = np.stack([values, markers], axis=-1).astype("float32")
    return x, (values * markers).sum(axis=1, keepdims=True).astype("float32")


@pytest.mark.slow
def test_lstm_solves_the_adding_problem():
    """Sum the two marked values of a 50-step sequence (Hochreiter & Schmidhuber's
    adding problem): guessing the mean scores an MSE of 1/6; the LSTM must reach 0.01."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = _adding_problem(1000, 50, rng)
    x_test, y_test = _adding_problem(500, 50, rng)
    model = keras.Sequential([keras.Input((50, 2)), LSTM(8), Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse")
    for _ in range(20):  # about 12 epochs; stop as soon as it is solved
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        mse = model.evaluate(x_test, y_test, verbose=0)
        if mse < 0.01:
            break
    assert mse < 0.01


def test_backward_skips_the_input_gradient_when_no_one_reads_it():
    from npkeras.layers.base import BackwardContext

    x = np.ones((2, 4, 3), "float32")
    for layer in (LSTM(2), Bidirectional(GRU(2)), TimeDistributed(Dense(2))):
        y = layer(x)
        assert layer.backward(np.ones_like(y), BackwardContext(need_input_grad=False)) is None
        assert np.any(next(iter(all_grads(layer).values())))
        assert layer.backward(np.ones_like(y)).shape == x.shape


@pytest.mark.parametrize("rows", [1, 40, 64, 100])
@pytest.mark.parametrize("one_thread", [True, False])
def test_dot_rows_is_the_product_in_any_blocks(rows, one_thread, monkeypatch):
    monkeypatch.setattr(backend, "one_blas_thread", one_thread)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((rows, 64)), rng.standard_normal((64, 256))
    out = np.full((rows, 256), np.nan)
    assert rnn_base.dot_rows(a, b, out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


@pytest.mark.parametrize("make_layer", [lambda: LSTM(64), lambda: GRU(64), lambda: SimpleRNN(64)])
def test_step_products_in_row_blocks_give_the_same_pass(make_layer, float64, monkeypatch):
    # a batch of 70 runs its step products ((70, 64) @ (64, 4 * 64) for the LSTM) in blocks
    # with several BLAS threads, whole with one
    x = np.random.default_rng(1).standard_normal((70, 5, 3))
    results = []
    for one_thread in (True, False):
        monkeypatch.setattr(backend, "one_blas_thread", one_thread)
        keras.utils.set_random_seed(0)
        layer = make_layer()
        y = layer(x, training=True)
        dx = layer.backward(np.cos(y))
        results.append([y, dx, *all_grads(layer).values()])
    for blocked, whole in zip(*results):
        np.testing.assert_allclose(blocked, whole, rtol=1e-10, atol=1e-12)

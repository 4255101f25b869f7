"""ConvLSTM1D/2D/3D: shapes, gradients, a loop-by-loop NumPy reference, masks, dropout,
states, saving and a small learning task."""

import itertools
import json

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, ops
from npkeras.layers import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, layer_classes
from npkeras.layers.conv_lstm_cell import ConvLSTMCell
from npkeras.utils.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from tests.helpers import check_layer

TOLERANCE = 1e-6


@pytest.fixture
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


# -- a reference written as plainly as possible -----------------------------------------
def reference_conv(x, w, strides, padding, dilation):
    """Cross-correlation of ``x`` (batch, *spatial, c) with ``w`` (*k, c, out), one output
    position and kernel tap at a time; 'same' pads as TensorFlow (odd zero after)."""
    rank = x.ndim - 2
    pads, out_shape = [], []
    for n, k, s, d in zip(x.shape[1:-1], w.shape[:rank], strides, dilation):
        extent = (k - 1) * d + 1
        total = 0 if padding == "valid" else max((-(-n // s) - 1) * s + extent - n, 0)
        pads.append((total // 2, total - total // 2))
        out_shape.append((n + total - extent) // s + 1)
    padded = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((x.shape[0], *out_shape, w.shape[-1]))
    for pos in itertools.product(*map(range, out_shape)):
        for tap in itertools.product(*map(range, w.shape[:rank])):
            src = tuple(p * s + k * d for p, k, s, d in zip(pos, tap, strides, dilation))
            y[(slice(None), *pos)] += padded[(slice(None), *src)] @ w[tap]
    return y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_conv_lstm(layer, x, mask=None, states=None, input_masks=None, rec_masks=None):
    """Keras's ConvLSTM step by step on channels-last ``x`` (batch, time, *spatial, c):
    returns (outputs of every step, h, c)."""
    kernel, recurrent_kernel, *bias = [w.astype(np.float64) for w in layer.get_weights()]
    rank = x.ndim - 3
    ones = (1,) * rank
    steps = range(x.shape[1])[::-1] if layer.go_backwards else range(x.shape[1])
    outputs, h, c = [], None, None
    if states is not None:
        h, c = states
    for t in steps:
        z = []
        for g in range(4):
            x_g = x[:, t] * (1 if input_masks is None else input_masks[g])
            cols = slice(g * layer.filters, (g + 1) * layer.filters)
            z_g = reference_conv(
                x_g, kernel[..., cols], layer.strides, layer.padding, layer.dilation_rate
            )
            if h is None:
                h = c = np.zeros_like(z_g)
            h_g = h * (1 if rec_masks is None else rec_masks[g])
            z_g += reference_conv(h_g, recurrent_kernel[..., cols], ones, "same", ones)
            z.append(z_g + (bias[0][cols] if bias else 0))
        i, f, o = sigmoid(z[0]), sigmoid(z[1]), sigmoid(z[3])
        c_new = f * c + i * np.tanh(z[2])
        h_new = o * np.tanh(c_new)
        keep = 1.0 if mask is None else mask[:, t].reshape((-1,) + (1,) * (rank + 1))
        h = keep * h_new + (1 - keep) * h
        c = keep * c_new + (1 - keep) * c
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.standard_normal(w.shape) * scale for w in layer.get_weights()])


# -- the shared battery -------------------------------------------------------------------
CASES = [
    # (class, kwargs, input shape without batch, output shape, params)
    (ConvLSTM1D, dict(filters=2, kernel_size=3), (3, 6, 2), (4, 2), 4 * 2 * 3 * (2 + 2) + 8),
    (
        ConvLSTM1D,
        dict(
            filters=2,
            kernel_size=2,
            strides=2,
            padding="same",
            return_sequences=True,
            go_backwards=True,
        ),
        (3, 5, 1),
        (3, 3, 2),
        None,
    ),
    (
        ConvLSTM2D,
        dict(filters=2, kernel_size=3, padding="same", return_sequences=True),
        (2, 4, 3, 2),
        (2, 4, 3, 2),
        9 * (2 + 2) * 8 + 8,
    ),
    (
        ConvLSTM2D,
        dict(filters=2, kernel_size=(2, 3), strides=(2, 1)),
        (2, 5, 4, 1),
        (2, 2, 2),
        None,
    ),
    (
        ConvLSTM2D,
        dict(filters=2, kernel_size=2, dilation_rate=2, use_bias=False, go_backwards=True),
        (3, 5, 5, 1),
        (3, 3, 2),
        4 * 3 * 8,
    ),
    (
        ConvLSTM2D,
        dict(
            filters=2,
            kernel_size=3,
            padding="same",
            data_format="channels_first",
            return_sequences=True,
        ),
        (2, 1, 4, 3),
        (2, 2, 4, 3),
        None,
    ),
    (
        ConvLSTM2D,
        dict(
            filters=2,
            kernel_size=2,
            activation="relu",
            recurrent_activation="hard_sigmoid",
            unit_forget_bias=False,
        ),
        (2, 4, 4, 1),
        (3, 3, 2),
        None,
    ),
    (
        ConvLSTM3D,
        dict(filters=1, kernel_size=2, padding="same", strides=(1, 2, 2)),
        (2, 3, 4, 3, 1),
        (3, 2, 2, 1),
        8 * 2 * 4 + 4,
    ),
]


@pytest.mark.parametrize("cls, kwargs, shape, out_shape, params", CASES)
def test_conv_lstm_check_layer(cls, kwargs, shape, out_shape, params):
    check_layer(lambda: cls(**kwargs), shape, out_shape, expected_params=params)


@pytest.mark.parametrize(
    "cls, kwargs, shape",
    [
        (ConvLSTM1D, dict(filters=3, kernel_size=3, padding="same"), (4, 7, 2)),
        (ConvLSTM2D, dict(filters=2, kernel_size=(3, 2), strides=2), (3, 7, 6, 2)),
        (
            ConvLSTM2D,
            dict(filters=2, kernel_size=3, dilation_rate=(1, 2), go_backwards=True),
            (3, 5, 7, 1),
        ),
        (ConvLSTM3D, dict(filters=2, kernel_size=2, padding="same"), (2, 3, 3, 4, 1)),
    ],
)
def test_conv_lstm_matches_the_loop_reference(cls, kwargs, shape, float64):
    rng = np.random.default_rng(1)
    layer = cls(return_sequences=True, **kwargs)
    x = rng.standard_normal((2,) + shape)
    layer(x)
    randomize(layer, rng)
    outputs, _, _ = reference_conv_lstm(layer, x)
    np.testing.assert_allclose(layer(x), outputs, atol=1e-12)


def test_conv_lstm_channels_first_is_channels_last_transposed(float64):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 4, 2))
    last = ConvLSTM2D(3, 3, return_sequences=True)
    first = ConvLSTM2D(3, 3, return_sequences=True, data_format="channels_first")
    last(x)
    first(np.moveaxis(x, -1, 2))
    randomize(last, rng)
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(np.moveaxis(x, -1, 2)), np.moveaxis(last(x), -1, 2))


def test_conv_lstm_weights_follow_keras_layout():
    layer = ConvLSTM2D(4, (3, 2))
    layer(np.zeros((1, 2, 5, 5, 3)))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 2, 3, 16), (3, 2, 4, 16), (16,)]
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    bias = layer.get_weights()[2]  # unit_forget_bias: the forget gate's block starts at 1
    np.testing.assert_array_equal(bias, [0] * 4 + [1] * 4 + [0] * 8)


# -- masks, states, dropout ---------------------------------------------------------------
def test_conv_lstm_mask_keeps_states_and_has_right_gradients(float64):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 4, 3, 1))
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0], [0, 1, 1, 1]], dtype=bool)
    layer = ConvLSTM2D(2, 2, padding="same", return_sequences=True, go_backwards=True)
    layer(x)
    randomize(layer, rng)
    y = layer(x, mask=mask)
    expected, _, _ = reference_conv_lstm(layer, x, mask=mask)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    plain = layer.forward
    layer.forward = lambda inputs, training=False: plain(inputs, training, mask=mask)
    for key, err in check_layer_gradients(layer, x).items():
        assert err < TOLERANCE, key


def test_conv_lstm_mask_passes_with_return_sequences():
    layer = ConvLSTM1D(2, 3, return_sequences=True)
    mask = np.ones((2, 3), bool)
    assert layer.compute_mask(None, mask) is mask
    assert ConvLSTM1D(2, 3).compute_mask(None, mask) is None
    assert ConvLSTM1D(2, 3, return_state=True).compute_mask(None, mask) == [None, None, None]


def test_conv_lstm_zero_output_for_mask(float64):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5, 1))
    mask = np.array([[1, 0, 1], [1, 1, 0]], dtype=bool)
    layer = ConvLSTM1D(2, 3, return_sequences=True, zero_output_for_mask=True)
    y = layer(x, mask=mask)
    assert np.all(y[~mask] == 0) and np.all(y[mask] != 0)
    plain = layer.forward
    layer.forward = lambda inputs, training=False: plain(inputs, training, mask=mask)
    for key, err in check_layer_gradients(layer, x).items():
        assert err < TOLERANCE, key


def test_conv_lstm_return_state_and_initial_state_gradients(float64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 4, 2))
    layer = ConvLSTM2D(2, 3, padding="same", return_state=True)
    h0, c0 = rng.standard_normal((2, 2, 4, 4, 2))
    y, h, c = layer([x, h0, c0])
    np.testing.assert_array_equal(y, h)
    _, h_ref, c_ref = reference_conv_lstm(layer, x, states=(h0, c0))
    np.testing.assert_allclose(h, h_ref, atol=1e-12)
    np.testing.assert_allclose(c, c_ref, atol=1e-12)
    weights = [rng.standard_normal(a.shape) for a in (y, h, c)]

    def loss():
        outs = layer.forward([x, h0, c0])
        return sum(float((o * w).sum()) for o, w in zip(outs, weights))

    layer.forward([x, h0, c0])
    layer.cell.zero_grads()
    grads = layer.backward(weights)
    for analytic, value in zip(grads, (x, h0, c0)):
        assert relative_error(analytic, numerical_gradient(loss, value)) < TOLERANCE
    kernel_grad = layer.cell.grads["recurrent_kernel"].copy()
    numeric = numerical_gradient(loss, layer.cell.params["recurrent_kernel"])
    assert relative_error(kernel_grad, numeric) < TOLERANCE
    # a None state gradient stands for zeros (Keras's unconnected outputs)
    layer.forward([x, h0, c0])
    dx = layer.backward([weights[0], None, None])[0]
    layer.forward([x, h0, c0])
    np.testing.assert_allclose(dx, layer.backward([weights[0], 0 * h, 0 * c])[0])


def test_conv_lstm_initial_state_keyword_and_its_shape_check():
    layer = ConvLSTM1D(2, 3, padding="same")
    x = np.ones((2, 3, 5, 1))
    zeros = np.zeros((2, 5, 2))
    np.testing.assert_allclose(layer(x, initial_state=[zeros, zeros]), layer(x))
    with pytest.raises(
        ValueError,
        match=r"expects initial state 1 of shape \(2, 5, 2\), but "
        r"received shape \(2, 4, 2\)",
    ):
        layer(x, initial_state=[zeros, np.zeros((2, 4, 2))])
    with pytest.raises(
        ValueError,
        match=r"expects 2 initial state arrays \[h, c\], but "
        "received 1",
    ):
        layer(x, initial_state=zeros)


def test_conv_lstm_stateful_continues_across_calls():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 5, 2)).astype("float32")
    whole = ConvLSTM1D(3, 2, padding="same", return_sequences=True)
    parts = ConvLSTM1D(3, 2, padding="same", return_sequences=True, stateful=True)
    whole(x)
    parts(x)
    parts.set_weights(whole.get_weights())
    parts.reset_states()
    joined = np.concatenate([parts(x[:, :4]), parts(x[:, 4:])], axis=1)
    np.testing.assert_allclose(joined, whole(x), rtol=1e-5, atol=1e-6)
    parts.reset_states()
    np.testing.assert_allclose(parts(x[:, :4]), whole(x[:, :4]), rtol=1e-5, atol=1e-6)
    with pytest.raises(
        ValueError, match="keeps states for batches of 2 samples, but received a batch of 1"
    ):
        parts(x[:1])
    with pytest.raises(AttributeError, match="is not stateful"):
        whole.reset_states()


def test_conv_lstm_dropout_follows_keras_per_gate_masks(float64):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 3, 1))
    layer = ConvLSTM2D(
        2, 3, padding="same", dropout=0.3, recurrent_dropout=0.4, seed=11, return_sequences=True
    )
    layer(x)
    randomize(layer, rng)
    np.testing.assert_allclose(layer(x), reference_conv_lstm(layer, x)[0], atol=1e-12)
    # training: four input masks, then four recurrent masks, drawn from the seed
    layer.cell._rng = np.random.default_rng(11)
    draws = np.random.default_rng(11)
    input_masks = [(draws.random((2, 4, 3, 1)) >= 0.3) / 0.7 for _ in range(4)]
    rec_masks = [(draws.random((2, 4, 3, 2)) >= 0.4) / 0.6 for _ in range(4)]
    expected, _, _ = reference_conv_lstm(layer, x, input_masks=input_masks, rec_masks=rec_masks)
    np.testing.assert_allclose(layer(x, training=True), expected, atol=1e-12)
    # gradients with the masks fixed: the same seed before every call
    plain = layer.forward

    def same_masks(inputs, training=False):
        layer.cell._rng = np.random.default_rng(11)
        return plain(inputs, training)

    layer.forward = same_masks
    for key, err in check_layer_gradients(layer, x, training=True).items():
        assert err < TOLERANCE, key


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(filters=0, kernel_size=3), r"invalid value for `filters` .*Received: filters=0"),
        (dict(filters=2, kernel_size=(3, 3, 3)), r"`kernel_size` .*tuple of 2 positive"),
        (
            dict(filters=2, kernel_size=3, padding="causal"),
            r"`padding` .*expected one of 'valid', 'same'. Received: padding='causal'",
        ),
        (
            dict(filters=2, kernel_size=3, strides=2, dilation_rate=2),
            r"`strides > 1` is not compatible with `dilation_rate > 1`",
        ),
        (
            dict(filters=2, kernel_size=3, dropout=1.0),
            r"`dropout` .*expected a float in \[0, 1\). Received: dropout=1.0",
        ),
        (dict(filters=2, kernel_size=3, recurrent_dropout=-0.1), r"`recurrent_dropout`"),
        (dict(filters=2, kernel_size=3, data_format="nhwc"), r"`data_format`"),
    ],
)
def test_conv_lstm_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvLSTM2D(**kwargs)


def test_conv_lstm_cell_rejects_bad_rank():
    with pytest.raises(ValueError, match=r"`rank` .*expected 1, 2 or 3. Received: rank=4"):
        ConvLSTMCell(4, 2, 3)


def test_conv_lstm_shape_errors():
    with pytest.raises(
        ValueError,
        match=r"expects inputs of rank 5 \(batch, time, 2 spatial "
        r"axes and channels\), but received input shape "
        r"\(.*, 3, 4, 1\)",
    ):
        ConvLSTM2D(2, 3)(np.zeros((2, 3, 4, 1)))
    with pytest.raises(ValueError, match=r"too small for kernel_size=\(3, 3\)"):
        ConvLSTM2D(2, 3)(np.zeros((1, 2, 2, 5, 1)))
    with pytest.raises(ValueError, match="only support static input shapes for the spatial"):
        ConvLSTM2D(2, 3).build((None, 3, None, 5, 1))
    with pytest.raises(ValueError, match="needs a known channel dimension"):
        ConvLSTM1D(2, 3).build((None, 3, 5, None))
    layer = ConvLSTM1D(2, 3)
    with pytest.raises(
        ValueError,
        match=r"expects a mask of shape \(batch, time\) = \(2, 3\), "
        r"but received shape \(2, 4\)",
    ):
        layer(np.zeros((2, 3, 5, 1)), mask=np.ones((2, 4), bool))


# -- config, saving, summary ------------------------------------------------------------------
def test_conv_lstm_config_is_keras_flat_config():
    layer = ConvLSTM2D(
        3,
        3,
        strides=2,
        dropout=0.1,
        seed=4,
        return_sequences=True,
        kernel_constraint="non_neg",
        name="clstm",
    )
    config = json.loads(json.dumps(layer.get_config()))
    for key, value in {
        "filters": 3,
        "kernel_size": [3, 3],
        "strides": [2, 2],
        "padding": "valid",
        "data_format": "channels_last",
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "unit_forget_bias": True,
        "dropout": 0.1,
        "seed": 4,
        "return_sequences": True,
        "go_backwards": False,
        "stateful": False,
        "name": "clstm",
    }.items():
        assert config[key] == value, key
    assert "cell" not in config and "rank" not in config
    twin = layer_classes()["ConvLSTM2D"].from_config(config)
    assert twin.get_config() == config
    assert layer.filters == 3 and layer.kernel_size == (3, 3)  # the cell's, as Keras


def test_conv_lstm_model_saves_loads_and_summarizes(tmp_path):
    rng = np.random.default_rng(8)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((4, 6, 6, 1)),
            layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True),
            layers.ConvLSTM2D(2, 3, strides=2, go_backwards=True),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    x = rng.standard_normal((2, 4, 6, 6, 1)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npkeras")
    loaded = keras.models.load_model(tmp_path / "m.npkeras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "ConvLSTM2D" in text and "(None, 4, 6, 6, 3)" in text and "(None, 2, 2, 2)" in text
    assert f"{9 * 4 * 12 + 12:,}" in text  # 444 parameters in the first layer
    pytest.importorskip("h5py")
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = keras.Sequential.from_config(model.get_config())
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), expected)


def test_conv_lstm_keras_weights_file_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    layers = keras.layers
    model = keras.Sequential(
        [keras.Input((3, 5, 2)), layers.ConvLSTM1D(4, 3), layers.Reshape((3, 4)), layers.LSTM(2)]
    )
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:  # where Keras 3 keeps them
        assert [f[f"layers/conv_lstm1d/cell/vars/{i}"].shape for i in range(3)] == [
            (3, 2, 16),
            (3, 4, 16),
            (16,),
        ]
        assert [f[f"layers/lstm/cell/vars/{i}"].shape for i in range(3)] == [
            (4, 8),
            (2, 8),
            (8,),
        ]
        assert len(f["layers/conv_lstm1d/vars"]) == 0
    twin = keras.Sequential.from_config(model.get_config())
    twin.load_weights(tmp_path / "m.weights.h5")
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_conv_lstm_in_a_functional_model_with_states():
    layers = keras.layers
    inputs = keras.Input((3, 5, 5, 2))
    sequence, h, _ = layers.ConvLSTM2D(4, 3, return_state=True, return_sequences=True)(inputs)
    score = layers.Dense(1)(layers.Flatten()(h))
    model = keras.Model(inputs, [sequence, score])
    assert model.output_shape == [(None, 3, 3, 3, 4), (None, 1)]
    x = np.random.default_rng(9).random((4, 3, 5, 5, 2)).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse", "mse"])
    targets = [np.zeros((4, 3, 3, 3, 4)), np.zeros((4, 1))]
    losses = model.fit(x, targets, epochs=3, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_conv_lstm_under_a_gradient_tape_matches_backward():
    layer = ConvLSTM1D(2, 3)
    x = np.random.default_rng(10).random((2, 3, 6, 1)).astype("float32")
    with keras.GradientTape() as tape:
        loss = keras.ops.sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_weights)
    layer.forward(x)
    layer.cell.zero_grads()
    layer.backward(np.ones((2, 4, 2), "float32"))
    for grad, name in zip(grads, ["kernel", "recurrent_kernel", "bias"]):
        np.testing.assert_allclose(np.asarray(grad), layer.cell.grads[name], rtol=1e-6)


def test_conv_lstm_onnx_export_names_the_layer(tmp_path):
    pytest.importorskip("onnx")
    model = keras.Sequential([keras.Input((2, 5, 1)), keras.layers.ConvLSTM1D(2, 3, name="clstm")])
    with pytest.raises(ValueError, match=r"Cannot export layer 'clstm' \(ConvLSTM1D\) to ONNX"):
        model.export(tmp_path / "m.onnx", format="onnx")


# -- learning ---------------------------------------------------------------------------------
def moving_dots(count, rng, frames=8, size=8):
    """One bright pixel per sequence moving one pixel per frame (bouncing off the walls)."""
    seqs = np.zeros((count, frames, size, size, 1), "float32")
    for n in range(count):
        pos, vel = rng.integers(0, size, 2), rng.choice([-1, 1], 2)
        for t in range(frames):
            seqs[n, t, pos[0], pos[1], 0] = 1.0
            for axis in range(2):
                if not 0 <= pos[axis] + vel[axis] < size:
                    vel[axis] = -vel[axis]
            pos = pos + vel
    return seqs[:, :-1], seqs[:, 1:]


def test_conv_lstm_learns_next_frame_of_moving_dot():
    keras.utils.set_random_seed(0)
    x, y = moving_dots(256, np.random.default_rng(0))
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((7, 8, 8, 1)),
            layers.ConvLSTM2D(6, 3, padding="same", return_sequences=True),
            layers.Conv3D(1, (1, 3, 3), padding="same", activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0).history["loss"]
    assert history[-1] < history[0] / 4, history
    # below the best constant guess (every pixel lit with the dot's frequency, 1/64): the
    # model predicts where the dot goes next, which needs its motion over two frames
    p = y.mean()
    constant_loss = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert history[-1] < 0.75 * constant_loss, (history, constant_loss)


def test_conv_lstm_takes_activation_functions_like_the_other_recurrent_layers(float64):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5, 1))
    by_name = ConvLSTM1D(2, 3, activation="relu", padding="same", return_sequences=True)
    by_op = ConvLSTM1D(2, 3, activation=ops.relu, padding="same", return_sequences=True)
    by_name(x), by_op(x)
    by_op.set_weights(by_name.get_weights())
    np.testing.assert_array_equal(by_op(x), by_name(x))
    assert by_op.get_config()["activation"] == "relu"
    # any other function is differentiated by the tape: the finite-difference check holds
    layer = ConvLSTM1D(2, 2, activation=lambda z: ops.tanh(z) * 0.5)
    layer(x)
    errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors

"""ONNX export of the convolution, pooling, normalization, embedding and recurrent layers:
onnxruntime must compute what ``model.predict`` computes (float32, 1e-5)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import npkeras as keras
from tests.export.test_onnx import assert_same_outputs, data, sequential

layers = keras.layers


def randomize_weights(model, seed=1):
    """Non-trivial weights everywhere (BatchNormalization's statistics included)."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32") * np.sign(rng.normal(size=w.shape))
            for w in model.get_weights()
        ]
    )
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            variance = layer.params["moving_variance"]
            variance[...] = np.abs(variance)


def randomized(input_shape, *stack):
    """A Sequential model of ``stack`` with random weights."""
    model = sequential(input_shape, *stack)
    randomize_weights(model)
    return model


# -- (1) convolutions -------------------------------------------------------------------
@pytest.mark.parametrize(
    "input_shape, make_layer",
    [
        ((9, 3), lambda: layers.Conv1D(4, 3)),
        ((9, 3), lambda: layers.Conv1D(4, 3, strides=2, padding="same", activation="relu")),
        ((10, 4), lambda: layers.Conv1D(6, 3, dilation_rate=2, padding="same", groups=2)),
        ((7, 8, 3), lambda: layers.Conv2D(5, 3, activation="tanh")),
        ((7, 8, 3), lambda: layers.Conv2D(5, (3, 2), strides=(2, 1), padding="same")),
        ((8, 8, 4), lambda: layers.Conv2D(4, 3, dilation_rate=2, padding="same", groups=4)),
        ((8, 8, 4), lambda: layers.Conv2D(6, 2, strides=3, use_bias=False, groups=2)),
        ((6, 7, 3), lambda: layers.Conv2D(4, 3, padding="same", activation="softmax")),
        ((3, 6, 7), lambda: layers.Conv2D(4, 3, padding="same", data_format="channels_first")),
        ((5, 6, 4, 2), lambda: layers.Conv3D(3, 2, padding="same")),
        ((9, 3), lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=2)),
        ((5, 3), lambda: layers.Conv1DTranspose(4, 3)),
        ((5, 3), lambda: layers.Conv1DTranspose(4, 3, strides=2, padding="same")),
        ((5, 3), lambda: layers.Conv1DTranspose(4, 2, strides=3)),
        ((5, 3), lambda: layers.Conv1DTranspose(4, 3, strides=2, output_padding=1)),
        ((5, 6, 3), lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same")),
        ((5, 6, 3), lambda: layers.Conv2DTranspose(4, (2, 3), dilation_rate=2, padding="same")),
        (
            (5, 6, 3),
            lambda: layers.Conv2DTranspose(
                4, 4, strides=2, padding="same", output_padding=1, activation="relu"
            ),
        ),
        ((3, 5, 6), lambda: layers.Conv2DTranspose(4, 3, strides=2, data_format="channels_first")),
        ((3, 4, 5, 2), lambda: layers.Conv3DTranspose(2, 2, strides=2, use_bias=False)),
        ((9, 3), lambda: layers.DepthwiseConv1D(3, depth_multiplier=2, padding="causal")),
        ((7, 8, 3), lambda: layers.DepthwiseConv2D(3, strides=2, padding="same")),
        ((7, 8, 3), lambda: layers.DepthwiseConv2D((2, 3), depth_multiplier=3, use_bias=False)),
        ((3, 7, 8), lambda: layers.DepthwiseConv2D(3, data_format="channels_first")),
        ((9, 3), lambda: layers.SeparableConv1D(5, 3, padding="same", activation="relu")),
        ((7, 8, 3), lambda: layers.SeparableConv2D(4, 3, depth_multiplier=2, strides=2)),
        ((8, 8, 3), lambda: layers.SeparableConv2D(4, 3, padding="same", dilation_rate=2)),
    ],
)
def test_convolution(input_shape, make_layer, tmp_path):
    model = sequential(input_shape, make_layer())
    assert_same_outputs(model, [data(4, *input_shape)], tmp_path)


# -- (2) pooling and flatten after a convolution -----------------------------------------
@pytest.mark.parametrize(
    "input_shape, make_layer",
    [
        ((9, 3), lambda: layers.MaxPooling1D(2)),
        ((9, 3), lambda: layers.AveragePooling1D(3, strides=2, padding="same")),
        ((7, 9, 3), lambda: layers.MaxPooling2D()),
        ((7, 9, 3), lambda: layers.MaxPooling2D(3, strides=2, padding="same")),
        ((7, 9, 3), lambda: layers.AveragePooling2D((2, 3))),
        ((7, 9, 3), lambda: layers.AveragePooling2D(3, strides=2, padding="same")),
        (
            (3, 7, 9),
            lambda: layers.AveragePooling2D(2, padding="same", data_format="channels_first"),
        ),
        ((4, 5, 6, 2), lambda: layers.MaxPooling3D(2, padding="same")),
        ((9, 3), lambda: layers.GlobalAveragePooling1D()),
        ((9, 3), lambda: layers.GlobalMaxPooling1D(keepdims=True)),
        ((7, 9, 3), lambda: layers.GlobalAveragePooling2D()),
        ((7, 9, 3), lambda: layers.GlobalAveragePooling2D(keepdims=True)),
        ((7, 9, 3), lambda: layers.GlobalMaxPooling2D()),
        ((3, 7, 9), lambda: layers.GlobalMaxPooling2D(data_format="channels_first")),
    ],
)
def test_pooling(input_shape, make_layer, tmp_path):
    model = sequential(input_shape, make_layer())
    assert_same_outputs(model, [data(4, *input_shape)], tmp_path)


def test_flatten_after_a_convolution_keeps_the_channels_last_order(tmp_path):
    # the conv converter transposes back to NHWC, so ONNX's Flatten sees npkeras's layout
    model = sequential((6, 5, 2), layers.Conv2D(3, 2), layers.Flatten(), layers.Dense(4))
    assert_same_outputs(model, [data(3, 6, 5, 2)], tmp_path)


# -- (3) normalization -----------------------------------------------------------------
@pytest.mark.parametrize(
    "input_shape, make_layer",
    [
        ((5,), lambda: layers.BatchNormalization()),
        ((6, 5, 3), lambda: layers.BatchNormalization()),
        ((3, 6, 5), lambda: layers.BatchNormalization(axis=1, epsilon=0.1)),
        ((6, 5, 3), lambda: layers.BatchNormalization(center=False, scale=False)),
        ((6, 5, 3), lambda: layers.BatchNormalization(axis=[1, 3])),
        ((7,), lambda: layers.LayerNormalization()),
        ((4, 7), lambda: layers.LayerNormalization(epsilon=1e-5)),
        ((3, 4, 5), lambda: layers.LayerNormalization(axis=[-2, -1])),
        ((4, 7), lambda: layers.LayerNormalization(center=False, scale=False)),
        ((5, 6, 8), lambda: layers.GroupNormalization(groups=4)),
        ((8, 5, 6), lambda: layers.GroupNormalization(groups=2, axis=1, epsilon=0.1)),
        ((6,), lambda: layers.GroupNormalization(groups=3, center=False)),
        ((5, 6, 8), lambda: layers.GroupNormalization(groups=-1, scale=False)),
        ((7,), lambda: layers.UnitNormalization()),
        ((4, 5, 3), lambda: layers.UnitNormalization(axis=[1, 2])),
    ],
)
def test_normalization_at_inference(input_shape, make_layer, tmp_path):
    model = randomized(input_shape, make_layer())
    assert_same_outputs(model, [data(4, *input_shape)], tmp_path)


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"axis": 1}, r"axis=1 for input shape \(None, 4, 7\), rms_scaling=False"),
        ({"rms_scaling": True}, r"axis=-1 for input shape \(None, 4, 7\), rms_scaling=True"),
    ],
)
def test_layer_normalization_onnx_cannot_express_is_refused(kwargs, received, tmp_path):
    model = sequential((4, 7), layers.LayerNormalization(name="ln", **kwargs))
    with pytest.raises(
        ValueError, match=r"Cannot export LayerNormalization layer 'ln' .*" + received
    ):
        model.export(tmp_path / "m.onnx", format="onnx", verbose=False)


def test_unit_normalization_of_a_zero_row_is_zero(tmp_path):
    # the 1e-12 floor on the squared norm keeps 0 / 0 out, in ONNX as in npkeras
    model = sequential((4,), layers.UnitNormalization())
    assert_same_outputs(model, [np.zeros((2, 4), "float32")], tmp_path)


# -- (4) embedding ---------------------------------------------------------------------
def test_embedding_gathers_rows(tmp_path):
    model = sequential((6,), layers.Embedding(10, 3), layers.GlobalAveragePooling1D())
    ids = np.random.default_rng(0).integers(0, 10, size=(4, 6)).astype("float32")
    assert_same_outputs(model, [ids], tmp_path)


def test_embedding_with_mask_zero_is_refused(tmp_path):
    model = sequential((6,), layers.Embedding(10, 3, mask_zero=True, name="emb"))
    with pytest.raises(ValueError, match="Embedding layer 'emb' with mask_zero=True"):
        model.export(tmp_path / "m.onnx", format="onnx", verbose=False)


# -- (5) recurrent ---------------------------------------------------------------------
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize(
    "make_layer",
    [
        lambda seq: layers.LSTM(4, return_sequences=seq),
        lambda seq: layers.LSTM(3, return_sequences=seq, use_bias=False),
        lambda seq: layers.GRU(4, return_sequences=seq),
        lambda seq: layers.GRU(4, return_sequences=seq, reset_after=False),
        lambda seq: layers.GRU(3, return_sequences=seq, activation="relu"),
        lambda seq: layers.SimpleRNN(5, return_sequences=seq),
    ],
)
def test_recurrent(make_layer, return_sequences, tmp_path):
    model = randomized((6, 3), make_layer(return_sequences))
    assert_same_outputs(model, [data(4, 6, 3) * 0.3], tmp_path)


@pytest.mark.parametrize("rnn", [layers.LSTM, layers.GRU])
def test_recurrent_return_state(rnn, tmp_path):
    inputs = keras.Input(shape=(5, 3))
    outputs = rnn(4, return_sequences=True, return_state=True)(inputs)
    model = keras.Model(inputs, outputs)
    randomize_weights(model)
    assert_same_outputs(model, [data(2, 5, 3) * 0.3], tmp_path)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize(
    "rnn, merge_mode",
    [
        (layers.LSTM, "concat"),
        (layers.GRU, "sum"),
        (layers.SimpleRNN, "mul"),
        (layers.GRU, "ave"),
        (layers.LSTM, None),
    ],
)
def test_bidirectional(rnn, merge_mode, return_sequences, tmp_path):
    inputs = keras.Input(shape=(6, 3))
    wrapped = layers.Bidirectional(rnn(4, return_sequences=return_sequences), merge_mode)
    model = keras.Model(inputs, wrapped(inputs))
    randomize_weights(model)
    assert_same_outputs(model, [data(3, 6, 3) * 0.3], tmp_path)


@pytest.mark.parametrize(
    "layer, match",
    [
        (layers.LSTM(2, go_backwards=True, name="r"), "LSTM layer 'r' to ONNX with go_backwards"),
        (layers.GRU(2, activation="selu", name="r"), "its activation 'selu' is not one of"),
        (
            layers.Bidirectional(layers.LSTM(2, return_state=True), name="bi"),
            r"Bidirectional layer 'bi' to ONNX: .* return_state=True",
        ),
    ],
)
def test_recurrent_onnx_cannot_express_is_refused(layer, match, tmp_path):
    model = sequential((5, 3), layer)
    with pytest.raises(ValueError, match=match):
        model.export(tmp_path / "m.onnx", format="onnx", verbose=False)


@pytest.mark.parametrize(
    "input_shape, make_inner",
    [
        ((5, 4), lambda: layers.Dense(3, activation="tanh")),
        ((None, 4), lambda: layers.Dense(3)),
        ((4, 6, 6, 2), lambda: layers.Conv2D(3, 3, strides=2, padding="same")),
        ((4, 6, 6, 2), lambda: layers.MaxPooling2D()),
    ],
)
def test_time_distributed(input_shape, make_inner, tmp_path):
    model = randomized(input_shape, layers.TimeDistributed(make_inner()))
    steps = input_shape[0] or 7
    assert_same_outputs(model, [data(3, steps, *input_shape[1:])], tmp_path)


# -- (6) a small mixed CNN ---------------------------------------------------------------
def test_small_cnn_mixing_the_families(tmp_path):
    model = randomized(
        (12, 12, 3),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Conv2D(8, 3, strides=2, padding="same", groups=2),
        layers.LayerNormalization(),
        layers.AveragePooling2D(padding="same"),
        layers.Flatten(),
        layers.Dense(5, activation="softmax"),
    )
    assert_same_outputs(model, [data(3, 12, 12, 3)], tmp_path)


def test_sequence_model_embedding_conv1d_lstm(tmp_path):
    model = randomized(
        (10,),
        layers.Embedding(20, 6),
        layers.Conv1D(8, 3, padding="same", activation="relu"),
        layers.MaxPooling1D(),
        layers.LSTM(5, return_sequences=True),
        layers.GRU(4),
        layers.Dense(2),
    )
    ids = np.random.default_rng(2).integers(0, 20, size=(3, 10)).astype("float32")
    assert_same_outputs(model, [ids], tmp_path)


@pytest.mark.parametrize(
    "make_layer, same_upper",
    [
        (lambda: layers.Conv1D(4, 4, strides=2, padding="same"), True),
        (lambda: layers.Conv1D(4, 3, dilation_rate=2, padding="same"), False),
        (lambda: layers.Conv1D(4, 3, strides=2, padding="causal"), False),
        (lambda: layers.SeparableConv1D(4, 3, strides=2, padding="same"), True),
    ],
)
def test_same_padding_with_a_free_length(make_layer, same_upper, tmp_path):
    # with strides > 1 the padding depends on the length, unknown when exporting, so ONNX
    # pads at run time (SAME_UPPER: extra zero after); with stride 1 it is fixed
    model = sequential((None, 3), make_layer())
    assert ("SAME_UPPER" in str(keras.export.onnx.to_onnx(model).graph.node)) == same_upper
    for length in (7, 8):
        assert_same_outputs(model, [data(2, length, 3)], tmp_path)


def test_opset_18_graph_checks_and_runs(tmp_path):
    # opset 18 turned ReduceMean's `axes` into an input: the converters avoid such ops
    model = randomized(
        (8, 8, 2),
        layers.Conv2D(4, 3, padding="same"),
        layers.BatchNormalization(),
        layers.LayerNormalization(),
        layers.GroupNormalization(groups=2),
        layers.UnitNormalization(),
        layers.Reshape((64, 4)),
        layers.GRU(3, return_sequences=True),
        layers.GlobalMaxPooling1D(),
    )
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", verbose=False, opset_version=18)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 18
    onnx.checker.check_model(proto, full_check=True)
    x = data(2, 8, 8, 2)
    (theirs,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {proto.graph.input[0].name: x}
    )
    np.testing.assert_allclose(theirs, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# -- reshaping and activation layers ------------------------------------------------------
@pytest.mark.parametrize(
    "input_shape, make_layer",
    [
        ((5, 3), lambda: layers.ZeroPadding1D((1, 2))),
        ((4, 5, 3), lambda: layers.ZeroPadding2D(((1, 0), (2, 3)))),
        ((3, 4, 5), lambda: layers.ZeroPadding2D(1, data_format="channels_first")),
        ((3, 4, 5, 2), lambda: layers.ZeroPadding3D(1)),
        ((7, 3), lambda: layers.Cropping1D((2, 1))),
        ((6, 7, 3), lambda: layers.Cropping2D(((1, 2), (0, 3)))),
        ((3, 6, 7), lambda: layers.Cropping2D(1, data_format="channels_first")),
        ((5, 3), lambda: layers.UpSampling1D(3)),
        ((4, 5, 3), lambda: layers.UpSampling2D((2, 3))),
        ((3, 4, 5), lambda: layers.UpSampling2D(2, data_format="channels_first")),
        ((2, 3, 4, 2), lambda: layers.UpSampling3D(2)),
        ((4, 5, 3), lambda: layers.Permute((3, 1, 2))),
        ((5,), lambda: layers.RepeatVector(3)),
        ((4, 5), lambda: layers.ReLU()),
        ((4, 5), lambda: layers.ReLU(max_value=1.5, negative_slope=0.2, threshold=0.5)),
        ((4, 5), lambda: layers.LeakyReLU(0.25)),
        ((4, 5), lambda: layers.ELU(0.7)),
        ((4, 5), lambda: layers.Softmax(axis=1)),
        ((4, 5, 3), lambda: layers.PReLU()),
        ((4, 5, 3), lambda: layers.PReLU(shared_axes=[1, 2])),
        ((4, 5), lambda: layers.GaussianNoise(0.5)),
        ((4, 5), lambda: layers.GaussianDropout(0.5)),
        ((4, 5), lambda: layers.AlphaDropout(0.5)),
        ((4, 5), lambda: layers.SpatialDropout1D(0.5)),
        ((4, 5, 3), lambda: layers.SpatialDropout2D(0.5)),
        ((4, 5), lambda: layers.ActivityRegularization(0.1)),
        ((4, 5), lambda: layers.Identity()),
        ((6, 6, 3), lambda: layers.RandomFlip()),
        ((6, 6, 3), lambda: layers.RandomRotation(0.2)),
        ((6, 6, 3), lambda: layers.RandomTranslation(0.2, 0.2)),
        ((6, 6, 3), lambda: layers.RandomZoom(0.2)),
        ((6, 6, 3), lambda: layers.RandomContrast(0.3)),
        ((6, 6, 3), lambda: layers.RandomBrightness(0.3)),
        ((6, 6, 3), lambda: layers.Rescaling(1 / 255.0, offset=-1)),
        ((6, 6, 3), lambda: layers.Rescaling([0.5, 2.0, 3.0], offset=[1.0, 0.0, -1.0])),
    ],
)
def test_reshaping_and_activation_layers(input_shape, make_layer, tmp_path):
    model = randomized(input_shape, make_layer())
    assert_same_outputs(model, [data(3, *input_shape)], tmp_path)


def test_cropping_with_a_free_length(tmp_path):
    model = sequential((None, 3), layers.Cropping1D((1, 2)))
    for length in (5, 8):
        assert_same_outputs(model, [data(2, length, 3)], tmp_path)


def test_softmax_over_several_axes_is_refused(tmp_path):
    model = sequential((4, 5), layers.Softmax(axis=(1, 2), name="sm"))
    with pytest.raises(ValueError, match=r"Softmax layer 'sm' to ONNX: .* axis=\(1, 2\)"):
        model.export(tmp_path / "m.onnx", format="onnx", verbose=False)

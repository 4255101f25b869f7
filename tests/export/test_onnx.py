"""ONNX export: onnxruntime must compute what npkeras computes (1e-5), for every layer and
activation with a converter, for Sequential, functional, nested and multi-output models."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import npkeras as keras
from npkeras.export.onnx import (
    exportable_activations,
    exportable_layers,
    register_converter,
    to_onnx,
)
from npkeras.layers import Layer

layers = keras.layers


def run_both(model, inputs, tmp_path):
    """Export ``model``, check the file, and return (npkeras outputs, onnxruntime outputs)."""
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", verbose=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.astype("float32") for i, x in zip(session.get_inputs(), inputs)}
    assert [i.name for i in session.get_inputs()] == model.input_names
    assert [o.name for o in session.get_outputs()] == model.output_names
    ours = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    ours = ours if isinstance(ours, list) else [ours]
    return ours, session.run(None, feeds)


def assert_same_outputs(model, inputs, tmp_path):
    ours, theirs = run_both(model, inputs, tmp_path)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def data(*shape, seed=0):
    return np.random.default_rng(seed).normal(0, 2, size=shape).astype("float32")


def sequential(input_shape, *stack):
    return keras.Sequential([keras.Input(shape=input_shape), *stack])


ACTIVATIONS = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "exponential",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "hard_sigmoid",
    "leaky_relu",
]


def test_every_registered_activation_is_tested():
    assert set(exportable_activations()) <= set(ACTIVATIONS)


@pytest.mark.parametrize(
    "activation",
    ACTIVATIONS
    + [
        keras.activations.LeakyReLU(0.3),
        keras.activations.ELU(0.5),
        keras.activations.GELU(approximate=True),
        keras.activations.Softmax(axis=1),
    ],
)
def test_dense_with_each_activation(activation, tmp_path):
    model = sequential((5,), layers.Dense(4, activation=activation))
    assert_same_outputs(model, [data(7, 5)], tmp_path)


@pytest.mark.parametrize(
    "make_layer, input_shape",
    [
        (lambda: layers.Dense(3, use_bias=False), (4,)),
        (lambda: layers.Dense(3, activation="relu"), (2, 4)),  # Dense on a rank-3 input
        (lambda: layers.Activation("tanh"), (4,)),
        (lambda: layers.Dropout(0.5), (4,)),
        (lambda: layers.Flatten(), (2, 3, 2)),
        (lambda: layers.Reshape((3, 2)), (6,)),
        (lambda: layers.Reshape((-1, 2)), (2, 3)),
        (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.25]), (2,)),
        (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0], invert=True), (2,)),
    ],
    ids=[
        "dense-nobias",
        "dense-rank3",
        "activation",
        "dropout",
        "flatten",
        "reshape",
        "reshape-minus1",
        "normalization",
        "normalization-invert",
    ],
)
def test_single_layer(make_layer, input_shape, tmp_path):
    model = sequential(input_shape, make_layer())
    assert_same_outputs(model, [data(3, *input_shape)], tmp_path)


@pytest.mark.parametrize(
    "merge",
    [
        layers.Add,
        layers.Subtract,
        layers.Multiply,
        layers.Average,
        layers.Maximum,
        layers.Minimum,
        layers.Concatenate,
        lambda: layers.Concatenate(axis=1),
    ],
)
def test_merge_layers_in_a_functional_model(merge, tmp_path):
    a, b = keras.Input(shape=(2, 3), name="a"), keras.Input(shape=(2, 3), name="b")
    model = keras.Model([a, b], merge()([a, b]))
    assert_same_outputs(model, [data(4, 2, 3, seed=1), data(4, 2, 3, seed=2)], tmp_path)


@pytest.mark.parametrize(
    "merge",
    [
        layers.Add,
        layers.Multiply,
        layers.Average,
        layers.Maximum,
        layers.Minimum,
        layers.Concatenate,
    ],
)
def test_merges_of_three_inputs(merge, tmp_path):
    inputs = [keras.Input(shape=(3,)) for _ in range(3)]
    model = keras.Model(inputs, merge()(inputs))
    assert_same_outputs(model, [data(4, 3, seed=s) for s in range(3)], tmp_path)


def test_mixed_model_nested_shared_and_multi_output(tmp_path):
    features = keras.Input(shape=(6,), name="features")
    extra = keras.Input(shape=(2, 2), name="extra")
    norm = layers.Normalization()
    norm.adapt(data(50, 6, seed=3))
    tower = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            layers.Dense(5, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(4, activation="tanh"),
        ],
        name="tower",
    )
    inner_in = keras.Input(shape=(4,))
    head = keras.Model(inner_in, layers.Dense(4, activation="elu")(inner_in), name="head")
    shared = layers.Dense(4, activation="swish", name="shared")

    x = tower(norm(features))
    flat = layers.Flatten()(extra)
    merged = layers.Concatenate()([shared(x), shared(flat), head(x)])  # `shared` called twice
    hidden = layers.Dense(6, activation="gelu")(merged)
    projected = layers.Dense(6)(merged)
    mixed = layers.Add()([layers.Reshape((2, 3))(hidden), layers.Reshape((2, 3))(projected)])
    probs = layers.Dense(3, activation="softmax", name="probs")(layers.Flatten()(mixed))
    value = layers.Subtract(name="value")([layers.Dense(1)(hidden), layers.Dense(1)(x)])
    model = keras.Model([features, extra], [probs, value])

    assert_same_outputs(model, [data(8, 6, seed=4), data(8, 2, 2, seed=5)], tmp_path)
    proto = to_onnx(model)
    shared_kernels = [i.name for i in proto.graph.initializer if i.name.startswith("shared/kernel")]
    assert shared_kernels == ["shared/kernel"]  # a layer called twice stores its weights once


def test_model_export_is_keras_call_with_batch_axis_free(tmp_path):
    model = sequential((3,), layers.Dense(2))
    path = tmp_path / "m.onnx"
    model.export(str(path), format="onnx", verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 3]
    for batch in (1, 5):
        x = data(batch, 3)
        np.testing.assert_allclose(
            session.run(None, {model.input_names[0]: x})[0], model.predict(x, verbose=0), atol=1e-6
        )


def test_export_prints_where_it_went(tmp_path, capsys):
    sequential((3,), layers.Dense(2)).export(tmp_path / "m.onnx", format="onnx")
    assert "Saved artifact at" in capsys.readouterr().out


class Cube(Layer):
    def forward(self, x, training=False):
        return x**3


def test_unexportable_layer_is_named_with_the_exportable_list(tmp_path):
    model = sequential((3,), layers.Dense(2), Cube(name="cube"))
    with pytest.raises(
        ValueError,
        match=r"Cannot export layer 'cube' \(Cube\) to ONNX: no "
        r"converter is registered for Cube\. Exportable layers: "
        r"\['Activation', .*'Add', .*'Dense'",
    ):
        model.export(tmp_path / "m.onnx", format="onnx")


class RegisteredCube(Cube):
    pass


def test_registering_a_converter_makes_a_custom_layer_exportable(tmp_path):
    @register_converter(RegisteredCube)
    def convert_cube(graph, layer, inputs):
        return graph.op("Pow", [inputs[0], graph.constant(3.0)], name=layer.name)

    assert "RegisteredCube" in exportable_layers() and "Cube" not in exportable_layers()
    assert_same_outputs(sequential((3,), RegisteredCube()), [data(4, 3)], tmp_path)


def test_unexportable_activation_is_named(tmp_path):
    class Square(keras.activations.Activation):
        name = "square"

        def __call__(self, x):
            return x * x

    model = sequential((3,), layers.Dense(2, activation=Square(), name="dense_sq"))
    with pytest.raises(
        ValueError,
        match=r"Cannot export activation 'square' of layer 'dense_sq' "
        r"\(Dense\) to ONNX.*Exportable activations: \['elu'",
    ):
        model.export(tmp_path / "m.onnx", format="onnx")


def test_export_argument_errors(tmp_path):
    model = sequential((3,), layers.Dense(2))
    with pytest.raises(
        ValueError,
        match=r"cannot export format='tf_saved_model': it exports "
        r"\['onnx'\]\. Call model.export\(filepath, "
        r"format='onnx'\)",
    ):
        model.export(tmp_path / "m")
    with pytest.raises(ValueError, match="`input_signature` is not supported"):
        model.export(tmp_path / "m.onnx", format="onnx", input_signature=[(None, 3)])
    unbuilt = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="is not built, so its input shape is unknown"):
        unbuilt.export(tmp_path / "m.onnx", format="onnx")


class ChannelScale(Layer):
    """Scales channel c of a (batch, ..., channels) input by c + 1: a stand-in for the
    channels-last layers (convolutions, pooling) whose ONNX ops are channels-first."""

    def forward(self, x, training=False):
        return x * np.arange(1, x.shape[-1] + 1, dtype=x.dtype)


@register_converter(ChannelScale)
def convert_channel_scale(graph, layer, inputs):
    shape = graph.shape(inputs[0])
    rank = len(shape)
    x = graph.channels_first(inputs[0], rank)
    scale = np.arange(1, shape[-1] + 1, dtype="float32")
    scale = scale.reshape((-1,) + (1,) * (rank - 2))  # broadcasts over (channels, ...)
    y = graph.op("Mul", [x, graph.constant(scale)], name=layer.name)
    return graph.channels_last(y, rank)


@pytest.mark.parametrize("input_shape", [(5, 3), (4, 5, 3), (2, 4, 5, 3)])
def test_channels_first_and_last_helpers_round_trip(input_shape, tmp_path):
    model = sequential(input_shape, layers.Dense(3), ChannelScale())
    assert_same_outputs(model, [data(2, *input_shape)], tmp_path)
    x = keras.Input(shape=input_shape)
    functional = keras.Model(x, ChannelScale()(layers.Activation("relu")(x)))
    assert_same_outputs(functional, [data(2, *input_shape)], tmp_path)


def test_graph_knows_the_shape_of_every_tensor():
    x = keras.Input(shape=(2, 3), name="x")
    functional = keras.Model(x, layers.Flatten()(layers.Dense(4)(x)))  # (None, 8)
    nested = keras.Sequential([keras.Input(shape=(2, 3)), functional, layers.Reshape((4, 2))])
    seen = {}

    @register_converter(ShapeProbe)
    def probe(graph, layer, inputs):
        seen["shape"] = graph.shape(inputs[0])
        return inputs[0]

    to_onnx(keras.Sequential([keras.Input(shape=(2, 3)), nested, ShapeProbe()]))
    assert seen["shape"] == (None, 4, 2)


class ShapeProbe(Layer):
    pass


def test_float64_model_exports_float32_graph(float64, tmp_path):
    model = sequential((4,), layers.Dense(3, activation="tanh"), layers.Dense(2))
    assert model.layers[0].params["kernel"].dtype == np.float64
    assert_same_outputs(model, [data(5, 4)], tmp_path)

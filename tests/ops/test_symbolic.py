"""keras.ops and Python operators on symbolic functional tensors: graph nodes (OpLayer),
shapes, training, gradients, saving; the merge functions and the Dot layer."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers, ops
from npkeras.layers.op_layer import OpLayer
from npkeras.utils import check_gradients
from tests.helpers import check_layer

# (description, function of two symbolic inputs a: (None, 4), b: (None, 4))
SYMBOLIC = [
    ("add", lambda a, b: a + b),
    ("radd", lambda a, b: 1.0 + a),
    ("sub", lambda a, b: a - b),
    ("rsub", lambda a, b: 2.0 - b),
    ("mul", lambda a, b: a * b),
    ("rmul", lambda a, b: 3 * a),
    ("div", lambda a, b: a / (abs(b) + 1.0)),
    ("rdiv", lambda a, b: 1.0 / (a * a + 1.0)),
    ("pow", lambda a, b: abs(a) ** 1.5),
    ("rpow", lambda a, b: 2.0**a),
    ("matmul", lambda a, b: a @ np.ones((4, 3))),
    ("neg", lambda a, b: -a),
    ("abs", lambda a, b: abs(a)),
    ("lt", lambda a, b: a < b),
    ("ge", lambda a, b: a >= 0.0),
    ("ne", lambda a, b: a != b),
    ("mod", lambda a, b: a % 0.3),
    ("rmod", lambda a, b: 1.0 % b),
    ("and_or_xor_not", lambda a, b: ~((a > 0) & (b > 0)) | ((a < 0) ^ (b < 0))),
    ("slice", lambda a, b: a[:, 1:3]),
    ("index", lambda a, b: a[:, 0]),
    ("newaxis", lambda a, b: a[:, None, ::2]),
    ("T", lambda a, b: a.T),
    ("concatenate", lambda a, b: ops.concatenate([a, b], axis=-1)),
    ("stack", lambda a, b: ops.stack([a, b], axis=1)),
    ("einsum", lambda a, b: ops.einsum("bi,bj->bij", a, b)),
    ("where", lambda a, b: ops.where(a > b, a, b)),
    ("mean", lambda a, b: ops.mean(a, axis=-1, keepdims=True)),
    ("sum_batch", lambda a, b: ops.sum(a, axis=0)),
    ("reshape", lambda a, b: ops.reshape(a, (-1, 2, 2))),
    ("flatten_all", lambda a, b: ops.reshape(a, (-1,))),
    ("softmax", lambda a, b: ops.softmax(a)),
    ("gelu", lambda a, b: ops.nn.gelu(a)),
    ("norm", lambda a, b: ops.linalg.norm(a, axis=-1)),
    ("argmax", lambda a, b: ops.argmax(a, axis=-1)),
    ("take", lambda a, b: ops.take(a, [0, 3, 3], axis=1)),
    ("pad", lambda a, b: ops.pad(a, [[0, 0], [1, 2]])),
    ("one_hot", lambda a, b: ops.one_hot(ops.argmax(a, axis=-1), 5)),
    ("cast", lambda a, b: ops.cast(a, "float64")),
    ("split", lambda a, b: ops.split(a, 2, axis=1)),
    ("moments", lambda a, b: ops.moments(a, axes=[1])),
    ("dropout", lambda a, b: keras.random.dropout(a, 0.5, seed=1)),
]


@pytest.mark.parametrize("build", [f for _, f in SYMBOLIC], ids=[n for n, _ in SYMBOLIC])
def test_symbolic_call_builds_a_node_that_computes_what_the_op_computes(build):
    a, b = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    out = build(a, b)
    outs = out if isinstance(out, (list, tuple)) else [out]
    assert all(isinstance(t, keras.KerasTensor) for t in outs)
    assert isinstance(outs[0].node.layer, OpLayer)
    model = keras.Model([a, b], outs + [a + b])  # a + b: both inputs feed the graph
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((5, 4)).astype("float32") for _ in range(2)]
    got = [np.asarray(g) for g in model(x)[:-1]]  # a call, not predict: some outputs
    # (a.T, sum over the batch) are not batch-major, so predict could not join batches
    expected = build(*x)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    for t, g, e in zip(outs, got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)
        assert len(t.shape) == np.ndim(e)
        assert all(d is None or d == n for d, n in zip(t.shape, np.shape(e)))
        assert np.dtype(t.dtype) == np.asarray(e).dtype


def test_symbolic_shapes_keep_the_batch_axis_unknown():
    x = keras.Input(shape=(4,))
    assert (x + 1).shape == (None, 4)
    assert ops.sum(x, axis=0).shape == (4,)
    assert ops.reshape(x, (-1,)).shape == (None,)
    assert ops.mean(x).shape == ()
    assert ops.shape(x) == (None, 4) and ops.ndim(x) == 2
    assert round(x).node.layer.function == "round" and round(x).shape == (None, 4)
    seq = keras.Input(shape=(None, 3))
    assert ops.transpose(seq, (0, 2, 1)).shape == (None, 3, None)


def test_augmented_assignment_builds_a_new_tensor():
    x = keras.Input(shape=(3,))
    residual = layers.Dense(3)(x)
    y = residual
    y += x
    y *= 2.0
    assert y is not residual and residual.node.layer.name.startswith("dense")
    assert y.node.layer.function == "multiply"
    assert y.node.inputs[0].node.layer.function == "add"


def test_integer_tensors_flow_between_op_layers():
    ids = keras.Input(shape=(3,))
    table = keras.Input(shape=(5,))
    picked = ops.take_along_axis(table, ops.cast(ids, "int32"), axis=1)
    model = keras.Model([table, ids], picked)
    t = np.arange(10, dtype="float32").reshape(2, 5)
    i = np.array([[0, 4, 4], [1, 1, 0]], dtype="float32")
    np.testing.assert_array_equal(model.predict([t, i], verbose=0), [[0, 4, 4], [6, 6, 5]])


def _ops_model():
    inputs = keras.Input(shape=(4,))
    hidden = layers.Dense(8, activation="tanh")(inputs)
    gate = ops.sigmoid(hidden[:, :4])
    mixed = gate * inputs + (1.0 - gate) * ops.square(hidden[:, 4:])
    mixed += ops.mean(inputs, axis=-1, keepdims=True)
    features = ops.concatenate([mixed, ops.linalg.norm(hidden, axis=-1, keepdims=True)], -1)
    outputs = layers.Dense(1)(ops.relu(features) ** 2 / 4.0)
    return keras.Model(inputs, outputs)


def test_model_with_ops_trains_and_saves_with_identical_predictions(tmp_path):
    keras.utils.set_random_seed(0)
    model = _ops_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype("float32")
    y = (x[:, :1] * x[:, 1:2] + x[:, 2:3]).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    path = tmp_path / "ops_model.npkeras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    rebuilt = keras.models.model_from_json(model.to_json())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_with_ops_has_exact_gradients():
    keras.utils.set_random_seed(1)
    model = _ops_model()
    x = np.random.default_rng(1).standard_normal((3, 4))
    assert check_gradients(model, x).passed


def test_op_layer_config_stores_the_op_by_name_and_constants_as_json():
    x = keras.Input(shape=(4, 3))
    y = ops.pad(x[..., ::2, None], [[0, 0], [1, 1], [0, 0], [0, 0]]) + np.array([1.0, 2.0])
    config = y.node.layer.get_config()
    assert config["function"] == "add"
    assert config["arguments"][1] == {"__array__": [1.0, 2.0], "dtype": "float64"}
    slicing = y.node.inputs[0].node.inputs[0].node.layer.get_config()
    assert slicing["function"] == "get_item"
    assert slicing["arguments"][1] == {
        "__tuple__": [{"__ellipsis__": True}, {"__slice__": [None, None, 2]}, None]
    }
    clone = OpLayer.from_config(slicing)
    np.testing.assert_array_equal(clone(np.ones((1, 4, 3))), np.ones((1, 4, 2, 1)))


def test_symbolic_errors():
    x = keras.Input(shape=(4,))
    with pytest.raises(TypeError, match=r"A symbolic KerasTensor cannot be iterated over"):
        list(x)
    with pytest.raises(TypeError, match=r"cannot be used as a boolean.*keras.ops.where"):
        bool(x > 0)
    with pytest.raises(
        ValueError,
        match=r"ops.add: the inputs' shapes .*\(2, 4\), \(3,\) cannot "
        r".*symbolic inputs have shapes \(None, 4\); unknown "
        r"sizes were tried as 2",
    ):
        x + np.ones(3)
    with pytest.raises(ValueError, match=r"OpLayer: unknown op 'no_such_op'"):
        OpLayer("no_such_op")


# -- merge functions and Dot ------------------------------------------------------------
MERGES = [
    ("add", lambda a, b: a + b),
    ("subtract", lambda a, b: a - b),
    ("multiply", lambda a, b: a * b),
    ("average", lambda a, b: (a + b) / 2),
    ("maximum", np.maximum),
    ("minimum", np.minimum),
    ("concatenate", lambda a, b: np.concatenate([a, b], axis=-1)),
    ("dot", lambda a, b: (a * b).sum(-1, keepdims=True)),
]


@pytest.mark.parametrize("name, ref", MERGES, ids=[n for n, _ in MERGES])
def test_lowercase_merge_functions(name, ref):
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    merge = getattr(layers, name)
    out = merge([a, b], axes=1) if name == "dot" else merge([a, b], name=f"my_{name}")
    model = keras.Model([a, b], out)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((4, 3)).astype("float32") for _ in range(2)]
    np.testing.assert_allclose(model.predict(x, verbose=0), ref(*x), rtol=1e-6)
    np.testing.assert_allclose(merge(x, axes=1) if name == "dot" else merge(x), ref(*x), rtol=1e-6)


@pytest.mark.parametrize(
    "axes, shapes, out_shape",
    [
        (1, [(3,), (3,)], (1,)),
        (-1, [(2, 3), (4, 3)], (2, 4)),
        ((2, 1), [(2, 3), (3, 5)], (2, 5)),
        ([1, 2], [(3, 2), (4, 3)], (2, 4)),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_layer(axes, shapes, out_shape, normalize):
    check_layer(
        lambda: layers.Dot(axes=axes, normalize=normalize), shapes, out_shape, expected_params=0
    )


def test_dot_normalize_gives_cosine_similarity_and_bad_arguments_raise():
    a, b = np.array([[3.0, 4.0]]), np.array([[4.0, 3.0]])
    np.testing.assert_allclose(layers.Dot(axes=1, normalize=True)([a, b]), [[24 / 25]])
    with pytest.raises(
        ValueError,
        match=r"Received an invalid value for `axes` of Dot layer "
        r"'dot_\w*', expected an int or a pair of ints",
    ):
        layers.Dot(axes=(1, 2, 3))
    x, y = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    with pytest.raises(
        ValueError,
        match=r"contracts axis 1 of shape \(None, 3\) with axis 1 "
        r"of shape \(None, 4\)",
    ):
        layers.Dot(axes=1)([x, y])

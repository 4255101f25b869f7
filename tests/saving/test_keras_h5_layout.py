"""Keras 3's ``.weights.h5`` layout for layers with sub-layers, checked without Keras.

The expected paths and shapes were listed from files that Keras 3.15.1 (JAX backend)
wrote with ``model.save_weights`` for the same models (``h5py.File(...).visititems``);
tests/parity/test_keras_attention.py checks the same models against Keras itself.
"""

import math

import numpy as np
import pytest

import npkeras as keras
from tests.parity.test_keras_attention import composite_model, transformer_model

h5py = pytest.importorskip("h5py")

TRANSFORMER = {
    "layers/dense/vars/0": (8, 16),
    "layers/dense/vars/1": (16,),
    "layers/dense_1/vars/0": (16, 8),
    "layers/dense_1/vars/1": (8,),
    "layers/dense_2/vars/0": (8, 3),
    "layers/dense_2/vars/1": (3,),
    "layers/layer_normalization/vars/0": (8,),
    "layers/layer_normalization/vars/1": (8,),
    "layers/layer_normalization_1/vars/0": (8,),
    "layers/layer_normalization_1/vars/1": (8,),
    "layers/multi_head_attention/key_dense/vars/0": (8, 2, 4),
    "layers/multi_head_attention/key_dense/vars/1": (2, 4),
    "layers/multi_head_attention/output_dense/vars/0": (2, 4, 8),
    "layers/multi_head_attention/output_dense/vars/1": (8,),
    "layers/multi_head_attention/query_dense/vars/0": (8, 2, 4),
    "layers/multi_head_attention/query_dense/vars/1": (2, 4),
    "layers/multi_head_attention/value_dense/vars/0": (8, 2, 4),
    "layers/multi_head_attention/value_dense/vars/1": (2, 4),
}

COMPOSITE = {
    "layers/additive_attention/vars/0": (8,),
    "layers/attention/vars/0": (),
    "layers/attention/vars/1": (),
    "layers/batch_normalization/vars/0": (2,),
    "layers/batch_normalization/vars/1": (2,),
    "layers/batch_normalization/vars/2": (2,),
    "layers/batch_normalization/vars/3": (2,),
    "layers/bidirectional/backward_layer/cell/vars/0": (18, 12),
    "layers/bidirectional/backward_layer/cell/vars/1": (3, 12),
    "layers/bidirectional/backward_layer/cell/vars/2": (12,),
    "layers/bidirectional/forward_layer/cell/vars/0": (18, 12),
    "layers/bidirectional/forward_layer/cell/vars/1": (3, 12),
    "layers/bidirectional/forward_layer/cell/vars/2": (12,),
    "layers/einsum_dense/vars/0": (8, 4),
    "layers/einsum_dense/vars/1": (4,),
    "layers/grouped_query_attention/_key_dense/vars/0": (8, 2, 4),
    "layers/grouped_query_attention/_key_dense/vars/1": (2, 4),
    "layers/grouped_query_attention/_output_dense/vars/0": (4, 4, 8),
    "layers/grouped_query_attention/_output_dense/vars/1": (8,),
    "layers/grouped_query_attention/_query_dense/vars/0": (8, 4, 4),
    "layers/grouped_query_attention/_query_dense/vars/1": (4, 4),
    "layers/grouped_query_attention/_value_dense/vars/0": (8, 2, 4),
    "layers/grouped_query_attention/_value_dense/vars/1": (2, 4),
    "layers/multi_head_attention/key_dense/vars/0": (8, 2, 3),
    "layers/multi_head_attention/key_dense/vars/1": (2, 3),
    "layers/multi_head_attention/output_dense/vars/0": (2, 3, 6),
    "layers/multi_head_attention/output_dense/vars/1": (6,),
    "layers/multi_head_attention/query_dense/vars/0": (8, 2, 3),
    "layers/multi_head_attention/query_dense/vars/1": (2, 3),
    "layers/multi_head_attention/value_dense/vars/0": (8, 2, 3),
    "layers/multi_head_attention/value_dense/vars/1": (2, 3),
    "layers/rnn/cell/cells/gru_cell/vars/0": (4, 9),
    "layers/rnn/cell/cells/gru_cell/vars/1": (3, 9),
    "layers/rnn/cell/cells/gru_cell/vars/2": (2, 9),
    "layers/rnn/cell/cells/simple_rnn_cell/vars/0": (3, 2),
    "layers/rnn/cell/cells/simple_rnn_cell/vars/1": (2, 2),
    "layers/rnn/cell/cells/simple_rnn_cell/vars/2": (2,),
    "layers/time_distributed/layer/vars/0": (6, 4),
    "layers/time_distributed/layer/vars/1": (4,),
}

NESTED_SEQUENTIAL = {
    "layers/batch_normalization/vars/0": (3,),
    "layers/batch_normalization/vars/1": (3,),
    "layers/batch_normalization/vars/2": (3,),
    "layers/batch_normalization/vars/3": (3,),
    "layers/dense/vars/0": (4, 3),
    "layers/dense/vars/1": (3,),
    "layers/dense_1/vars/0": (2, 1),
    "layers/dense_1/vars/1": (1,),
    "layers/sequential/layers/dense/vars/0": (3, 2),
    "layers/sequential/layers/dense/vars/1": (2,),
}

SUBCLASSED = {
    "block/_d0/vars/0": (4, 2),
    "block/_d0/vars/1": (2,),
    "block/d1/vars/0": (4, 3),
    "block/d1/vars/1": (3,),
    "block/parts/dense/vars/0": (3, 1),
    "block/parts/dense/vars/1": (1,),
    "block/vars/0": (3,),  # trainable `v` first, though created after `w`
    "block/vars/1": (2,),
    "head/vars/0": (1, 2),
    "head/vars/1": (2,),
}


NORMALIZATIONS = {  # an adapted Normalization keeps Keras's int32 `count`; a fixed one nothing
    "layers/dense/vars/0": (4, 2),
    "layers/dense/vars/1": (2,),
    "layers/normalization/vars/0": (4,),
    "layers/normalization/vars/1": (4,),
    "layers/normalization/vars/2": (),
}


# a functional model's layers are numbered in Keras's graph order (deepest first, then
# by a depth-first walk from the outputs), not in the order they were called
BRANCHING = {
    "layers/dense/vars/0": (4, 5),
    "layers/dense/vars/1": (5,),
    "layers/dense_1/vars/0": (4, 3),
    "layers/dense_1/vars/1": (3,),
    "layers/dense_2/vars/0": (5, 2),
    "layers/dense_2/vars/1": (2,),
    "layers/dense_3/vars/0": (3, 6),
    "layers/dense_3/vars/1": (6,),
    "layers/dense_4/vars/0": (8, 7),
    "layers/dense_4/vars/1": (7,),
    "layers/dense_5/vars/0": (3, 8),
    "layers/dense_5/vars/1": (8,),
}

TWO_INPUTS = {
    "layers/dense/vars/0": (4, 3),
    "layers/dense/vars/1": (3,),
    "layers/dense_1/vars/0": (3, 2),
    "layers/dense_1/vars/1": (2,),
    "layers/dense_2/vars/0": (3, 5),
    "layers/dense_2/vars/1": (5,),
    "layers/dense_3/vars/0": (5, 4),
    "layers/dense_3/vars/1": (4,),
    "layers/dense_4/vars/0": (5, 9),
    "layers/dense_4/vars/1": (9,),
    "layers/dense_5/vars/0": (4, 1),
    "layers/dense_5/vars/1": (1,),
}


class Block(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(3)
        self._d0 = keras.layers.Dense(2)
        self.parts = [keras.layers.Dense(1), keras.layers.Dense(1)]  # the second never built

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer="ones", trainable=False, name="w")
        self.v = self.add_weight(shape=(3,), initializer="zeros", name="v")

    def call(self, x):
        return self.parts[0](self.d1(x)) + self._d0(x)[..., :1] + keras.ops.sum(self.v)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(self.block(x))


def _nested_sequential():
    layers = keras.layers
    inner = keras.Sequential([layers.Dense(2)])
    stack = [layers.Dense(3), layers.BatchNormalization(), inner, layers.Dense(1)]
    return keras.Sequential([keras.Input(shape=(4,))] + stack)


def _normalizations():
    adapted = keras.layers.Normalization()
    adapted.adapt(np.arange(48, dtype=np.float32).reshape(2, 6, 4))
    fixed = keras.layers.Normalization(mean=[1.0, 2, 3, 4], variance=[1.0, 1, 1, 1])
    return keras.Sequential([keras.Input(shape=(6, 4)), adapted, fixed, keras.layers.Dense(2)])


def _branching():
    layers = keras.layers
    x = keras.Input(shape=(4,))
    a = layers.Dense(3)(x)
    b = layers.Dense(5)(x)
    c = layers.Dense(2)(b)
    d = layers.Dense(6)(a)
    e = layers.Dense(7)(layers.Concatenate()([c, d]))
    return keras.Model(x, [e, layers.Dense(8)(a)])


def _two_inputs():
    layers = keras.layers
    x1, x2 = keras.Input(shape=(4,)), keras.Input(shape=(3,))
    called_last = layers.Dense(9)
    p = layers.Dense(2)(x2)
    q = layers.Dense(3)(x1)
    r = called_last(layers.Concatenate()([p, q]))
    s = layers.Dense(1)(layers.Dense(4)(layers.Dense(5)(q)))
    return keras.Model([x1, x2], [r, s])


def _subclassed():
    model = Subclassed()
    model(np.zeros((1, 4), np.float32))
    return model


def _datasets(path) -> dict:
    found = {}

    def note(name, obj):  # returns None, so visititems goes on
        if isinstance(obj, h5py.Dataset):
            found[name] = obj.shape

    with h5py.File(path, "r") as f:
        f.visititems(note)
    return found


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: transformer_model(keras), TRANSFORMER),
        (lambda: composite_model(keras), COMPOSITE),
        (_nested_sequential, NESTED_SEQUENTIAL),
        (_subclassed, SUBCLASSED),
        (_normalizations, NORMALIZATIONS),
        (_branching, BRANCHING),
        (_two_inputs, TWO_INPUTS),
    ],
    ids=[
        "transformer",
        "attention_wrappers_rnn",
        "nested_sequential",
        "subclassed",
        "norm",
        "branching",
        "two_inputs",
    ],
)
def test_saved_paths_and_shapes_are_keras_3s(tmp_path, make, expected):
    model = make()
    path = tmp_path / "m.weights.h5"
    model.save_weights(str(path))
    assert _datasets(path) == expected
    twin = make()
    twin.load_weights(str(path))
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batch_normalization_moving_statistics_follow_gamma_and_beta(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.BatchNormalization()])
    gamma, beta, mean, variance = (np.full(3, v, np.float32) for v in (2.0, 3.0, 4.0, 5.0))
    model.layers[-1].set_weights([gamma, beta, mean, variance])
    model.save_weights(str(tmp_path / "bn.weights.h5"))
    with h5py.File(tmp_path / "bn.weights.h5", "r") as f:
        stored = [f[f"layers/batch_normalization/vars/{i}"][()] for i in range(4)]
    np.testing.assert_array_equal(stored, [gamma, beta, mean, variance])


def _layer_norm(h, gamma, beta, epsilon=1e-3):
    mean = h.mean(-1, keepdims=True)
    return (h - mean) / np.sqrt(h.var(-1, keepdims=True) + epsilon) * gamma + beta


def _reference_transformer(w, x):
    """The Transformer block in NumPy, reading the weights by their Keras paths."""

    def var(path, i):
        return w[f"layers/{path}/vars/{i}"]

    def dense(path, h):
        return h @ var(path, 0) + var(path, 1)

    def project(name, h):  # (batch, time, d) -> (batch, time, heads, key_dim)
        where = f"multi_head_attention/{name}_dense"
        return np.einsum("btd,dhk->bthk", h, var(where, 0)) + var(where, 1)

    q, k, v = project("query", x), project("key", x), project("value", x)
    scores = np.einsum("bqhk,bshk->bhqs", q, k) / math.sqrt(q.shape[-1])
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    heads = np.einsum("bhqs,bshk->bqhk", probabilities, v)
    out = "multi_head_attention/output_dense"
    attended = np.einsum("bqhk,hkd->bqd", heads, var(out, 0)) + var(out, 1)
    h = _layer_norm(x + attended, var("layer_normalization", 0), var("layer_normalization", 1))
    ff = dense("dense_1", np.maximum(dense("dense", h), 0.0))
    h = _layer_norm(h + ff, var("layer_normalization_1", 0), var("layer_normalization_1", 1))
    return dense("dense_2", h.mean(axis=1))


def test_a_hand_written_keras_file_loads_and_predicts_the_numpy_reference(tmp_path):
    # the file as Keras writes it: a `vars` group (with the layer's name) per object,
    # weightless layers included, and the optimizer's state, which loading ignores
    rng = np.random.default_rng(3)
    weights = {p: rng.uniform(-1, 1, s).astype(np.float32) for p, s in TRANSFORMER.items()}
    path = tmp_path / "handmade.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "functional"
        for group in ("input_layer", "add", "add_1", "global_average_pooling1d"):
            f.create_group(f"layers/{group}/vars").attrs["name"] = group
        for name, value in weights.items():
            f.create_dataset(name, data=value)
        f.create_dataset("optimizer/vars/0", data=np.array(7, np.int64))
    model = transformer_model(keras)
    model.load_weights(str(path))
    x = rng.standard_normal((3, 6, 8)).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), _reference_transformer(weights, x), rtol=1e-5, atol=1e-5
    )


def test_a_missing_sub_layer_group_names_its_keras_path(tmp_path):
    path = tmp_path / "m.weights.h5"
    transformer_model(keras).save_weights(str(path))
    with h5py.File(path, "r+") as f:
        mha = "layers/multi_head_attention"
        f.move(f"{mha}/query_dense", f"{mha}/_query_dense")
    model = transformer_model(keras)
    before = model.get_weights()
    with pytest.raises(
        keras.saving.ModelFileError,
        match=r"holds 0 variable\(s\) at 'layers/multi_head_attention/query_dense/vars', but "
        r"npkeras layer 'query' \(EinsumDense\) has 2",
    ):
        model.load_weights(str(path))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_skip_mismatch_keeps_the_layers_that_do_not_fit_and_loads_the_rest(tmp_path):
    path = tmp_path / "m.weights.h5"
    source = _branching()
    source.save_weights(str(path))
    with h5py.File(path, "r+") as f:  # the Dense(6) kernel no longer fits
        del f["layers/dense_3/vars/0"]
        f.create_dataset("layers/dense_3/vars/0", data=np.zeros((3, 7), np.float32))
    target = _branching()
    before = [layer.get_weights() for layer in target.layers]
    with pytest.raises(keras.saving.ModelFileError, match=r"has shape \(3, 7\), but layer"):
        target.load_weights(str(path))
    for layer, kept in zip(target.layers, before):
        for a, b in zip(layer.get_weights(), kept):
            np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match=r"Skipping the weights of layer '.*' \(skip_mismatch"):
        target.load_weights(str(path), skip_mismatch=True)
    skipped = 0
    for layer, twin, kept in zip(source.layers, target.layers, before):
        mismatched = [w.shape for w in kept][:1] == [(3, 6)]
        skipped += mismatched
        for a, b, c in zip(layer.get_weights(), twin.get_weights(), kept):
            np.testing.assert_array_equal(b, c if mismatched else a)
    assert skipped == 1

import warnings

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, layers
from npkeras.layers.base import Layer
from tests.helpers import check_layer


def _ids(shape, vocab):
    return lambda batch, rng: rng.integers(0, vocab, size=(batch,) + shape)


@pytest.mark.parametrize("id_shape", [(), (5,), (2, 3)])
def test_embedding_check_layer(id_shape):
    layer = check_layer(
        lambda: layers.Embedding(4, 3, embeddings_initializer="random_normal"),
        id_shape,
        id_shape + (3,),
        expected_params=12,
        inputs=_ids(id_shape, 4),
    )
    assert list(layer.params) == ["embeddings"]


def test_embedding_lookup_and_float_ids(rng):
    table = rng.standard_normal((6, 2)).astype("float32")
    emb = layers.Embedding(6, 2, weights=table)
    ids = np.array([[5, 0, 2], [2, 2, 1]])
    np.testing.assert_array_equal(emb(ids), table[ids])
    np.testing.assert_array_equal(emb(ids.astype("float32")), table[ids])  # a model's float inputs
    assert emb.compute_output_shape((None, 3)) == (None, 3, 2)


def test_embedding_gradient_equals_dense_reference(rng):
    emb = layers.Embedding(50, 4)
    ids = rng.integers(0, 50, size=(8, 30))  # repeated ids within and across samples
    emb(ids)
    dy = rng.standard_normal((8, 30, 4)).astype("float32")
    emb.grads["embeddings"][...] = 1.0  # gradients add to what is there
    assert emb.backward(dy) is None
    reference = np.ones((50, 4), "float32")
    np.add.at(reference, ids.reshape(-1), dy.reshape(-1, 4))
    np.testing.assert_allclose(emb.grads["embeddings"], reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("compiled", [True, False])
def test_embedding_gradient_with_and_without_the_kernel(rng, monkeypatch, compiled):
    if compiled and backend.kernels is None:
        pytest.skip("the C kernels are not built")
    if not compiled:
        monkeypatch.setattr(backend, "kernels", None)
    emb = layers.Embedding(20, 3)
    ids = np.minimum(rng.zipf(1.5, size=(6, 40)), 19).astype("int32")  # many repeats
    emb(ids)
    dy = rng.standard_normal((6, 40, 3))
    emb.backward(dy.astype("float32"))
    reference = np.zeros((20, 3))
    np.add.at(reference, ids.reshape(-1), dy.reshape(-1, 3))
    np.testing.assert_allclose(emb.grads["embeddings"], reference, rtol=1e-5, atol=1e-5)


def test_embedding_frozen_has_no_gradient(rng):
    emb = layers.Embedding(5, 2, trainable=False)
    emb(np.array([[1, 2]]))
    emb.backward(np.ones((1, 2, 2)))
    assert not emb.grads["embeddings"].any() and emb.trainable_weights == []


def test_embedding_default_initializer_is_uniform_005():
    emb = layers.Embedding(1000, 16)
    emb(np.array([[0]]))
    table = emb.get_weights()[0]
    assert -0.05 <= table.min() < -0.049 and 0.049 < table.max() <= 0.05
    assert emb.get_config()["embeddings_initializer"]["class_name"] == "RandomUniform"


def test_embedding_mask_zero():
    ids = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    emb = layers.Embedding(4, 2, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(ids), ids != 0)
    assert layers.Embedding(4, 2).compute_mask(ids) is None


def test_embedding_input_length_is_accepted_and_ignored():
    with pytest.warns(UserWarning, match="`input_length` is deprecated"):
        emb = layers.Embedding(4, 2, input_length=7)
    assert "input_length" not in emb.get_config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Embedding(4, 2, input_length=None)


def test_embedding_errors():
    with pytest.raises(ValueError, match="invalid value for `input_dim`.*Received: input_dim=0"):
        layers.Embedding(0, 2)
    with pytest.raises(ValueError, match="invalid value for `output_dim`.*Received: output_dim=-1"):
        layers.Embedding(3, -1)
    with pytest.raises(ValueError, match="received id 7, outside the vocabulary \\[0, 4\\)"):
        layers.Embedding(4, 2)(np.array([[1, 7]]))
    with pytest.raises(ValueError, match="received id -1, outside the vocabulary"):
        layers.Embedding(4, 2)(np.array([[-1, 2]]))
    emb = layers.Embedding(4, 2)
    emb(np.array([[1]]))
    with pytest.raises(TypeError, match="expects integer ids, but received an array of dtype <U1"):
        emb.forward(np.array([["a"]]))
    with pytest.raises(
        ValueError, match="`weights` of shape \\(input_dim, output_dim\\) = \\(4, 2\\)"
    ):
        layers.Embedding(4, 2, weights=np.zeros((2, 4)))


def test_masking_forward_backward_and_mask():
    x = np.array([[[1.0, 2.0], [-1.0, -1.0], [0.0, 3.0]]])
    layer = layers.Masking(mask_value=-1.0)
    y = layer(x)
    np.testing.assert_array_equal(y, [[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]])
    np.testing.assert_array_equal(layer.compute_mask(x), [[True, False, True]])
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), [[[1, 1], [0, 0], [1, 1]]])
    # finite differences cannot cross the mask (moving a masked value unmasks it), so the
    # battery runs on unmasked data; the masked gradient is checked above
    check_layer(lambda: layers.Masking(mask_value=5.0), (3, 2), (3, 2), expected_params=0)


class _MeanOverTime(Layer):
    """Test-only mean over axis 1 (GlobalAveragePooling1D lives in another module)."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def forward(self, x, training=False):
        self.cache = x.shape
        return x.mean(axis=1)

    def backward(self, dy):
        n = self.cache[1]
        return np.broadcast_to(dy[:, None, :] / n, self.cache).copy()


def test_embedding_classifier_learns_a_keyword_task():
    # label 1 when any of the "positive" tokens 1..5 occurs in the sequence
    keras.utils.set_random_seed(0)
    data_rng = np.random.default_rng(0)
    ids = data_rng.integers(6, 100, size=(600, 12))
    labels = data_rng.integers(0, 2, size=600)
    positions = data_rng.integers(0, 12, size=600)
    ids[labels == 1, positions[labels == 1]] = data_rng.integers(1, 6, size=int(labels.sum()))
    model = keras.Sequential(
        [
            keras.Input((12,)),
            layers.Embedding(100, 8),
            _MeanOverTime(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(ids[:500], labels[:500], epochs=15, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(ids[500:], labels[500:], verbose=0)
    assert accuracy > 0.9


@pytest.mark.parametrize(
    "ids",
    [
        np.array([], int),
        np.array([3]),
        np.array([2, 2, 2]),
        np.array([5, 1, 5, 0, 1, 7]),
        np.arange(6)[::-1],
    ],
)
def test_segment_sum_rows_edge_cases(ids):
    from npkeras.layers.embedding import segment_sum_rows

    rows = np.arange(ids.size * 2, dtype="float64").reshape(-1, 2) + 1
    unique, sums = segment_sum_rows(ids, rows)
    assert sorted(unique.tolist()) == sorted(set(ids.tolist()))
    dense, reference = np.zeros((8, 2)), np.zeros((8, 2))
    dense[unique] = sums
    np.add.at(reference, ids, rows)
    np.testing.assert_array_equal(dense, reference)

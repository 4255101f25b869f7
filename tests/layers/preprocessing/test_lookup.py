import numpy as np
import pytest

from npkeras import layers


def test_string_lookup_vocabulary_oov_mask_and_invert():
    layer = layers.StringLookup(vocabulary=["a", "b", "c", "d"])
    assert layer(np.array([["a", "c", "d"], ["d", "z", "b"]])).tolist() == [[1, 3, 4], [4, 0, 2]]
    masked = layers.StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2)
    assert masked.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "b"]
    out = masked(np.array(["", "a", "zz", "b"]))
    assert out[[0, 1, 3]].tolist() == [0, 3, 4] and out[2] in (1, 2)
    inverse = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)
    assert inverse(np.array([[1, 3], [0, 9]])).tolist() == [["a", "c"], ["[UNK]", "[UNK]"]]
    assert layers.StringLookup(vocabulary=["[UNK]", "x"]).get_vocabulary() == ["[UNK]", "x"]
    assert layer(np.array([b"a", b"b"], dtype="S1")).tolist() == [1, 2]


def test_string_lookup_adapt_orders_by_count_then_token_descending():
    layer = layers.StringLookup()
    layer.adapt(np.array([["b", "a", "c"], ["c", "b", "d"], ["c", "e", "a"]]))
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "a", "e", "d"]
    small = layers.StringLookup(max_tokens=3)
    small.adapt(["b", "a", "c", "c", "b", "c"])
    assert small.get_vocabulary() == ["[UNK]", "c", "b"]
    assert small.vocabulary_size() == 3


def test_lookup_encodings_and_tf_idf():
    vocab = ["a", "b", "c"]
    data = np.array([["a", "b"], ["c", "z"]])
    assert layers.StringLookup(vocabulary=vocab, output_mode="multi_hot")(data).tolist() == [
        [0, 1, 1, 0],
        [1, 0, 0, 1],
    ]
    assert layers.StringLookup(
        vocabulary=vocab, output_mode="count", pad_to_max_tokens=True, max_tokens=6
    )(np.array([["a", "a"]])).tolist() == [[0, 2, 0, 0, 0, 0]]
    tfidf = layers.StringLookup(output_mode="tf_idf")
    docs = np.array([["a", "a", "b"], ["b", "c", "c"], ["a", "d", "d"]])
    tfidf.adapt(docs)
    vocab = tfidf.get_vocabulary()
    idf = {t: np.log(1 + 3 / (1 + df)) for t, df in {"a": 2, "b": 2, "c": 1, "d": 1}.items()}
    expected_row = np.zeros(len(vocab))
    for token in ("a", "a", "b"):
        expected_row[vocab.index(token)] += idf[token]
    np.testing.assert_allclose(tfidf(docs[:1])[0], expected_row, rtol=1e-6)
    oov = tfidf(np.array([["zzz"]]))[0, 0]
    assert oov == pytest.approx(np.mean(list(idf.values())), rel=1e-6)
    twin = layers.StringLookup.from_config(tfidf.get_config())
    np.testing.assert_allclose(twin(docs), tfidf(docs))


def test_integer_lookup():
    layer = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    assert layer(np.array([[12, 1138, 42], [42, 1000, 36]])).tolist() == [[1, 3, 4], [4, 0, 2]]
    assert layer.get_vocabulary() == [-1, 12, 36, 1138, 42]
    hashed = layers.IntegerLookup(vocabulary=[12, 36], num_oov_indices=2)
    assert hashed(np.array([13, 14, 36])).tolist() == [1, 0, 3]  # OOV index = value % 2
    adapted = layers.IntegerLookup(mask_token=0)
    adapted.adapt(np.array([[12, 1138, 42], [42, 1000, 36], [0, 0, 42]]))
    assert adapted.get_vocabulary()[:3] == [0, -1, 42]
    assert adapted(np.array([[0, 42, 7]])).tolist() == [[0, 2, 1]]
    inverse = layers.IntegerLookup(vocabulary=[12, 36], invert=True)
    assert inverse(np.array([2, 1, 0])).tolist() == [36, 12, -1]
    assert (
        layers.IntegerLookup.from_config(layer.get_config()).get_vocabulary()
        == layer.get_vocabulary()
    )


def test_lookup_errors():
    with pytest.raises(ValueError, match="repeated term.*\\['a'\\]"):
        layers.StringLookup(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="Found reserved mask token at unexpected location"):
        layers.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(
        ValueError,
        match="larger than the maximum vocab size. Received vocabulary "
        "size is 4; `max_tokens` is 3",
    ):
        layers.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(
        ValueError,
        match="When `num_oov_indices=0` all inputs should be in "
        "vocabulary, found OOV values \\['x'\\]",
    ):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["a", "x"]))
    with pytest.raises(ValueError, match="`output_mode` must be 'int' when `invert` is true"):
        layers.StringLookup(invert=True, output_mode="count")
    with pytest.raises(RuntimeError, match="you must set the layer's vocabulary before calling it"):
        layers.StringLookup(output_mode="multi_hot")(np.array(["a"]))
    with pytest.raises(ValueError, match="`idf_weights` must be set if output_mode is 'tf_idf'"):
        layers.StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(TypeError, match="expects string inputs; received dtype int64"):
        layers.StringLookup(vocabulary=["a"])(np.array([1]))
    with pytest.raises(ValueError, match="`num_oov_indices` must be greater than or equal to 0"):
        layers.IntegerLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match="If set, `max_tokens` must be greater than 1"):
        layers.IntegerLookup(max_tokens=1)

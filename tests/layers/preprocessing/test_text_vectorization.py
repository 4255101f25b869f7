import numpy as np
import pytest

import npkeras as keras
from npkeras import layers

TEXTS = np.array(["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog."])


def test_int_mode_vocabulary_and_padding():
    layer = layers.TextVectorization()
    layer.adapt(TEXTS)
    vocab = layer.get_vocabulary()
    # counts: the 3, a 2, cat 2, dog 2, then singles; ties by token, high to low
    assert vocab[:6] == ["", "[UNK]", "the", "dog", "cat", "a"]
    assert sorted(vocab[6:]) == ["ate", "homework", "mat", "my", "on", "sat"]
    out = layer(np.array(["The CAT!", "unknown dog dog"]))
    assert out.tolist() == [[2, 4, 0], [1, 3, 3]]
    fixed = layers.TextVectorization(output_sequence_length=2, vocabulary=vocab[2:])
    assert fixed(np.array([["the cat sat"], ["dog"]])).tolist() == [[2, 4], [3, 0]]
    assert fixed.compute_output_shape((None, 1)) == (None, 2)


def test_bag_of_words_modes_and_max_tokens():
    multi = layers.TextVectorization(max_tokens=5, output_mode="multi_hot")
    multi.adapt(TEXTS)
    assert multi.get_vocabulary() == ["[UNK]", "the", "dog", "cat", "a"]
    assert multi(np.array(["the the mat"])).tolist() == [[1, 1, 0, 0, 0]]
    count = layers.TextVectorization(max_tokens=5, output_mode="count")
    count.adapt(TEXTS)
    assert count(np.array(["the the mat", ""])).tolist() == [[1, 2, 0, 0, 0], [0, 0, 0, 0, 0]]
    tfidf = layers.TextVectorization(output_mode="tf_idf")
    tfidf.adapt(TEXTS)
    vocab = tfidf.get_vocabulary()
    # "the" appears in 2 of 3 documents: idf = log(1 + 3 / 3)
    assert tfidf(np.array(["the the"]))[0, vocab.index("the")] == pytest.approx(2 * np.log(2.0))


def test_standardize_split_ngrams_and_config():
    layer = layers.TextVectorization(
        standardize="lower", split="character", vocabulary=["a", "b", "!"]
    )
    assert layer(np.array(["AB!c"])).tolist() == [[2, 3, 4, 1]]
    bigrams = layers.TextVectorization(ngrams=2, vocabulary=["a", "b", "a b"])
    assert bigrams(np.array(["a b"])).tolist() == [[2, 3, 4]]
    custom = layers.TextVectorization(
        standardize=lambda s: s.replace("-", " "), split=None, vocabulary=["x y"]
    )
    assert custom(np.array(["x-y"])).tolist() == [[2]]
    adapted = layers.TextVectorization(output_sequence_length=4)
    adapted.adapt(TEXTS)
    twin = layers.TextVectorization.from_config(adapted.get_config())
    assert twin(TEXTS).tolist() == adapted(TEXTS).tolist()
    with pytest.raises(ValueError, match="cannot be saved with a function as `standardize`"):
        custom.get_config()


def test_errors():
    with pytest.raises(ValueError, match=r"Unknown `standardize` .*standardize='upper'"):
        layers.TextVectorization(standardize="upper")
    with pytest.raises(
        ValueError, match="`output_sequence_length` must not be set if `output_mode` is not 'int'"
    ):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(TypeError, match="expects string inputs; received dtype float"):
        layers.TextVectorization(vocabulary=["a"])(np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"Unknown `output_mode` .*output_mode='one_hot'"):
        layers.TextVectorization(output_mode="one_hot")


def test_text_classifier_on_vectorized_text(rng):
    keras.utils.set_random_seed(0)
    good = ["good great fun", "great movie", "fun and good", "loved it great"]
    bad = ["bad awful boring", "awful movie", "boring and bad", "hated it awful"]
    texts = np.array(good * 8 + bad * 8)
    labels = np.array([1.0] * 32 + [0.0] * 32)[:, None]
    vectorizer = layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(texts)
    x = vectorizer(texts)
    model = keras.Sequential([keras.Input((x.shape[1],)), layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=10, verbose=0)
    probabilities = model.predict(vectorizer(np.array(["great fun", "boring awful"])), verbose=0)
    assert probabilities[0, 0] > 0.9 and probabilities[1, 0] < 0.1

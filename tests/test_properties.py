"""Properties checked on many random inputs (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npkeras as keras
from npkeras import activations, losses

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=finite))
def test_softmax_rows_are_distributions(x):
    p = activations.softmax(x)
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(2, 8)), elements=finite), st.data()
)
def test_logit_cross_entropy_is_finite_and_nonnegative(z, data):
    labels = np.array(
        data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z)))
    )
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    value, grad = loss.value_and_grad(loss.prepare_targets(labels, z), z)
    assert np.isfinite(value) and value >= 0 and np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-5)  # softmax - onehot sums to 0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_save_load_is_bit_exact(tmp_path_factory, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(5, activation="gelu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("p") / "m.npkeras"
    model.save(path)
    x = np.random.default_rng(seed).standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), keras.models.load_model(path).predict(x, verbose=0)
    )

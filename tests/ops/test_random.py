"""keras.random: distributions, Keras's seeding rules, SeedGenerator, dropout's gradient."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import random
from tests.ops.checks import check_op_gradients

DRAWS = {
    "normal": lambda seed: random.normal((4000,), mean=1.0, stddev=2.0, seed=seed),
    "uniform": lambda seed: random.uniform((4000,), minval=-1.0, maxval=3.0, seed=seed),
    "truncated_normal": lambda seed: random.truncated_normal((4000,), 0.5, 1.5, seed=seed),
    "randint": lambda seed: random.randint((4000,), 2, 7, seed=seed),
    "shuffle": lambda seed: random.shuffle(np.arange(4000), seed=seed),
    "categorical": lambda seed: random.categorical(np.log([[0.2, 0.8]]), 4000, seed=seed),
    "dropout": lambda seed: random.dropout(np.ones(4000), 0.25, seed=seed),
}


@pytest.mark.parametrize("name", DRAWS)
def test_every_draw_is_reproducible_under_set_random_seed(name):
    draw = DRAWS[name]
    keras.utils.set_random_seed(7)
    first, second = draw(None), draw(None)
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(draw(None), first)
    np.testing.assert_array_equal(draw(None), second)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", DRAWS)
def test_an_int_seed_repeats_and_a_seed_generator_advances(name):
    draw = DRAWS[name]
    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.array_equal(draw(3), draw(4))
    generator = random.SeedGenerator(3)
    first, second = draw(generator), draw(generator)
    assert not np.array_equal(first, second)
    again = random.SeedGenerator(3)
    np.testing.assert_array_equal(draw(again), first)


def test_distributions_have_their_documented_moments_and_ranges():
    x = DRAWS["normal"](0)
    assert x.dtype == "float32" and abs(x.mean() - 1.0) < 0.1 and abs(x.std() - 2.0) < 0.1
    u = DRAWS["uniform"](0)
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.1
    t = DRAWS["truncated_normal"](0)
    assert np.all(np.abs(t - 0.5) <= 2 * 1.5) and abs(t.mean() - 0.5) < 0.1
    r = DRAWS["randint"](0)
    assert r.dtype == "int32" and set(np.unique(r)) == {2, 3, 4, 5, 6}
    assert sorted(DRAWS["shuffle"](0)) == list(range(4000))
    c = DRAWS["categorical"](0)
    assert c.shape == (1, 4000) and c.dtype == "int32" and abs(c.mean() - 0.8) < 0.03
    d = DRAWS["dropout"](0)
    assert set(np.unique(d)) == {0.0, 1 / 0.75} and abs((d == 0).mean() - 0.25) < 0.03
    assert random.normal((2,), dtype="float64").dtype == "float64"


def test_shuffle_along_an_axis_moves_whole_columns():
    x = np.arange(12).reshape(4, 3)
    y = random.shuffle(x, axis=1, seed=0)
    order = y[0]  # row 0 of x is [0, 1, 2]: its shuffle is the column order
    np.testing.assert_array_equal(y, x[:, order])
    assert sorted(order) == [0, 1, 2]


def test_dropout_noise_shape_shares_the_mask_and_the_gradient_is_the_mask(float64):
    x = np.ones((3, 5))
    y = random.dropout(x, 0.5, noise_shape=(None, 1), seed=1)
    assert all(len(set(row)) == 1 for row in y)
    check_op_gradients(lambda a: random.dropout(a, 0.3, seed=2), [np.random.randn(4, 5)])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: random.normal((2,), seed=-1),
            r"keras.random.normal: `seed` must be None, a non-negative int or a .*SeedGenerator",
        ),
        (lambda: random.uniform((2,), seed="a"), r"keras.random.uniform: `seed`"),
        (lambda: random.SeedGenerator(1.5), r"SeedGenerator: `seed` must be a non-negative int"),
        (
            lambda: random.dropout(np.ones(2), 1.0),
            r"keras.random.dropout: `rate` must be in \[0, 1\); received rate=1.0",
        ),
        (
            lambda: random.categorical(np.zeros(3), 2),
            r"`logits` must have shape \(batch_size, num_classes\); received shape \(3,\)",
        ),
    ],
)
def test_bad_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()

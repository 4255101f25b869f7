import numpy as np
import pytest

from npkeras import losses
from npkeras.utils.gradcheck import check_loss_gradient


def _probabilities(rng, shape):
    p = rng.random(shape) + 0.05
    return p / p.sum(axis=-1, keepdims=True)


def _cases(rng, batch):
    reg_t, reg_p = rng.standard_normal((batch, 3)), rng.standard_normal((batch, 3))
    pos_t, pos_p = rng.random((batch, 3)) + 0.1, rng.random((batch, 3)) + 0.1
    onehot = np.eye(4)[rng.integers(0, 4, batch)]
    labels = rng.integers(0, 4, batch)
    binary = rng.integers(0, 2, (batch, 2)).astype(float)
    return [
        (losses.MeanSquaredError(), reg_t, reg_p),
        (losses.MeanAbsoluteError(), reg_t, reg_p),
        (losses.MeanAbsolutePercentageError(), reg_t, reg_p),
        (losses.MeanSquaredLogarithmicError(), pos_t, pos_p),
        (losses.Huber(delta=0.7), reg_t, reg_p),
        (losses.LogCosh(), reg_t, reg_p),
        (losses.BinaryCrossentropy(), binary, rng.random((batch, 2)) * 0.9 + 0.05),
        (
            losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
            binary,
            rng.standard_normal((batch, 2)),
        ),
        (losses.CategoricalCrossentropy(), onehot, _probabilities(rng, (batch, 4))),
        (
            losses.CategoricalCrossentropy(label_smoothing=0.2),
            onehot,
            _probabilities(rng, (batch, 4)),
        ),
        (losses.CategoricalCrossentropy(from_logits=True), onehot, rng.standard_normal((batch, 4))),
        (losses.SparseCategoricalCrossentropy(), labels, _probabilities(rng, (batch, 4))),
        (
            losses.SparseCategoricalCrossentropy(from_logits=True),
            labels,
            rng.standard_normal((batch, 4)),
        ),
        (losses.KLDivergence(), _probabilities(rng, (batch, 4)), _probabilities(rng, (batch, 4))),
        (losses.Hinge(), binary, rng.standard_normal((batch, 2))),
        (losses.SquaredHinge(), binary, rng.standard_normal((batch, 2))),
        (losses.Poisson(), pos_t, pos_p),
        (losses.CosineSimilarity(), reg_t, reg_p),
    ]


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("index", range(18))
def test_loss_gradient_matches_finite_differences(float64, rng, batch, index):
    loss, y_true, y_pred = _cases(rng, batch)[index]
    assert check_loss_gradient(loss, y_true, y_pred) < 1e-6, loss.name
    weights = rng.random(batch)
    assert check_loss_gradient(loss, y_true, y_pred, sample_weight=weights) < 1e-6, loss.name


def test_sum_over_batch_size_with_sample_weights():
    t = np.array([[0.0], [0.0], [0.0]])
    p = np.array([[1.0], [2.0], [3.0]])
    w = np.array([1.0, 0.0, 2.0])
    # Keras divides the weighted sum by the number of samples, not by the weight total
    assert losses.MeanSquaredError()(t, p, sample_weight=w) == pytest.approx((1 + 0 + 18) / 3)
    assert losses.MeanSquaredError(reduction="sum")(t, p) == pytest.approx(14)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(t, p), [1, 4, 9])


def test_targets_without_last_axis_are_expanded():
    assert losses.MeanAbsoluteError()(
        np.array([1.0, 2.0]), np.array([[2.0], [2.0]])
    ) == pytest.approx(0.5)


def test_known_values():
    assert losses.Huber()(np.array([[0.0]]), np.array([[3.0]])) == pytest.approx(2.5)
    assert losses.CategoricalCrossentropy()(
        np.array([[0, 1.0]]), np.array([[0.5, 0.5]])
    ) == pytest.approx(np.log(2), rel=1e-6)
    assert losses.SparseCategoricalCrossentropy()(
        np.array([1]), np.array([[0.5, 0.5]])
    ) == pytest.approx(np.log(2), rel=1e-6)
    assert losses.CosineSimilarity()(np.array([[1.0, 0]]), np.array([[2.0, 0]])) == pytest.approx(
        -1.0
    )
    assert losses.Hinge()(np.array([[1.0]]), np.array([[0.3]])) == pytest.approx(0.7)


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(from_logits=True),
        losses.CategoricalCrossentropy(from_logits=True),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        losses.BinaryCrossentropy(),
        losses.CategoricalCrossentropy(),
    ],
)
def test_cross_entropy_is_finite_at_extremes(loss):
    logits = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32)
    if not loss.from_logits:
        logits = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        target = loss.prepare_targets(np.array([1, 1]), logits)
    else:
        target = loss.prepare_targets(np.array([[0.0, 1.0], [0.0, 1.0]]), logits)
    value, grad = loss.value_and_grad(target, logits)
    assert np.isfinite(value) and np.isfinite(grad).all()


def test_logit_cross_entropy_is_exact_where_probabilities_saturate():
    loss = losses.CategoricalCrossentropy(from_logits=True)
    value = loss(np.array([[1.0, 0.0]]), np.array([[0.0, 200.0]]))
    assert value == pytest.approx(200.0)


def test_sparse_labels_out_of_range():
    with pytest.raises(
        ValueError, match=r"received labels outside \[0, 2\] for 3 classes: \[3, 7\]"
    ):
        losses.SparseCategoricalCrossentropy()(np.array([0, 3, 7]), np.full((3, 3), 1 / 3))


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\) and y_pred.shape=\(2, 2\)"):
        losses.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 2)))


def test_aliases_and_unknown_names():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("kld"), losses.KLDivergence)
    with pytest.raises(
        ValueError, match=r"Unknown loss: 'mean_square_error'. Did you mean 'mean_squared_error'\?"
    ):
        losses.get("mean_square_error")


def test_plain_function_loss_gets_its_gradient_from_the_tape(float64, rng):
    from npkeras import ops

    def quartic(y_true, y_pred):
        return ops.mean(ops.power(y_pred - y_true, 4), axis=-1)

    loss = losses.get(quartic)
    assert loss.name == "quartic"
    y_true, y_pred = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    assert check_loss_gradient(loss, y_true, y_pred) < 1e-6
    np.testing.assert_allclose(float(loss(y_true, y_pred)), ((y_pred - y_true) ** 4).mean())


def test_loss_function_wrapper(float64, rng):
    loss = losses.LossFunctionWrapper(
        lambda t, p: ((p - t) ** 4).mean(-1),
        lambda t, p: 4 * (p - t) ** 3 / p.shape[-1],
        name="quartic",
    )
    assert (
        check_loss_gradient(loss, rng.standard_normal((3, 2)), rng.standard_normal((3, 2))) < 1e-6
    )


def test_bad_label_smoothing_and_reduction():
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0, 1\]"):
        losses.BinaryCrossentropy(label_smoothing=2)
    with pytest.raises(ValueError, match="Invalid `reduction` 'avg'"):
        losses.MeanSquaredError(reduction="avg")

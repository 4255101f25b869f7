import numpy as np
import pytest

from npkeras import metrics

sk = pytest.importorskip("sklearn.metrics")


def _stream(metric, y_true, y_pred, batch=7, sample_weight=None):
    metric.reset_state()
    for start in range(0, len(y_true), batch):
        sw = None if sample_weight is None else sample_weight[start : start + batch]
        metric.update_state(y_true[start : start + batch], y_pred[start : start + batch], sw)
    return metric.result()


def test_streaming_values_match_scikit_learn(rng):
    t = rng.integers(0, 2, 100)
    p = np.clip(t * 0.3 + rng.random(100) * 0.7, 0, 1)
    assert _stream(metrics.BinaryAccuracy(), t, p[:, None]) == pytest.approx(
        sk.accuracy_score(t, p > 0.5)
    )
    assert _stream(metrics.Precision(), t, p[:, None]) == pytest.approx(
        sk.precision_score(t, p > 0.5)
    )
    assert _stream(metrics.Recall(), t, p[:, None]) == pytest.approx(sk.recall_score(t, p > 0.5))
    assert _stream(metrics.AUC(), t, p[:, None]) == pytest.approx(sk.roc_auc_score(t, p), abs=5e-3)
    yt, yp = rng.standard_normal((100, 2)), rng.standard_normal((100, 2))
    assert _stream(metrics.R2Score(), yt, yp) == pytest.approx(sk.r2_score(yt, yp), rel=1e-9)
    assert _stream(metrics.MeanSquaredError(), yt, yp) == pytest.approx(
        sk.mean_squared_error(yt, yp)
    )
    assert _stream(metrics.MeanAbsoluteError(), yt, yp) == pytest.approx(
        sk.mean_absolute_error(yt, yp)
    )
    assert _stream(metrics.RootMeanSquaredError(), yt, yp) == pytest.approx(
        np.sqrt(sk.mean_squared_error(yt, yp))
    )
    assert _stream(metrics.MeanAbsolutePercentageError(), yt, yp) == pytest.approx(
        100 * sk.mean_absolute_percentage_error(yt, yp)
    )


def test_categorical_and_top_k(rng):
    labels = rng.integers(0, 5, 60)
    scores = rng.random((60, 5))
    onehot = np.eye(5)[labels]
    expected = np.mean(scores.argmax(1) == labels)
    assert _stream(metrics.SparseCategoricalAccuracy(), labels, scores) == pytest.approx(expected)
    assert _stream(metrics.CategoricalAccuracy(), onehot, scores) == pytest.approx(expected)
    assert _stream(metrics.TopKCategoricalAccuracy(k=2), onehot, scores) == pytest.approx(
        sk.top_k_accuracy_score(labels, scores, k=2)
    )
    assert _stream(metrics.SparseTopKCategoricalAccuracy(k=3), labels, scores) == pytest.approx(
        sk.top_k_accuracy_score(labels, scores, k=3)
    )


def test_weighted_streaming(rng):
    t, p = rng.integers(0, 2, 30), rng.random((30, 1))
    w = rng.random(30)
    assert _stream(metrics.BinaryAccuracy(), t, p, sample_weight=w) == pytest.approx(
        sk.accuracy_score(t, p[:, 0] > 0.5, sample_weight=w)
    )


def test_accuracy_resolution_follows_keras():
    assert isinstance(metrics.resolve("accuracy", (8, 1), (8, 1)), metrics.BinaryAccuracy)
    assert isinstance(metrics.resolve("accuracy", (8,), (8, 4)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.resolve("acc", (8, 1), (8, 4)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.resolve("accuracy", (8, 4), (8, 4)), metrics.CategoricalAccuracy)
    assert metrics.resolve("mae", (8, 1), (8, 1)).name == "mae"


def test_unknown_metric_and_one_shot_call():
    with pytest.raises(ValueError, match=r"Unknown metric: 'accurcy'. Did you mean 'accuracy'\?"):
        metrics.resolve("accurcy", (1,), (1,))
    m = metrics.MeanAbsoluteError()
    assert m(np.array([[1.0]]), np.array([[3.0]])) == 2.0
    # as in Keras 3, calling a metric updates its state and returns the running result
    assert m(np.array([[1.0]]), np.array([[1.0]])) == 1.0
    m.reset_state()
    assert m.result() == 0.0


def test_get_by_name_and_the_data_dependent_accuracy():
    assert isinstance(metrics.get("rmse"), metrics.RootMeanSquaredError)
    assert metrics.get("auc").name == "auc"
    with pytest.raises(ValueError, match="'accuracy' depends on the data"):
        metrics.get("accuracy")

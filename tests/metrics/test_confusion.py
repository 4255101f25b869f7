import numpy as np
import pytest

from npkeras import metrics

sk = pytest.importorskip("sklearn.metrics")


def _data(rng, n=200):
    t = rng.integers(0, 2, n)
    p = np.clip(t * 0.35 + rng.random(n) * 0.65, 0, 1)
    return t, p


def test_counts_match_scikit_learn_confusion_matrix(rng):
    t, p = _data(rng)
    tn, fp, fn, tp = sk.confusion_matrix(t, p > 0.5).ravel()
    for cls, expected in (
        (metrics.TruePositives, tp),
        (metrics.TrueNegatives, tn),
        (metrics.FalsePositives, fp),
        (metrics.FalseNegatives, fn),
    ):
        m = cls()
        for start in range(0, 200, 64):  # streamed in uneven batches
            m.update_state(t[start : start + 64], p[start : start + 64])
        assert m.result() == float(expected)


def test_counts_at_several_thresholds_and_weights():
    m = metrics.TruePositives(thresholds=[0.2, 0.5, 0.9])
    m.update_state([1, 1, 1, 0], [0.3, 0.6, 0.95, 0.99], sample_weight=[1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(m.result(), [6.0, 5.0, 3.0])
    fn = metrics.FalseNegatives(thresholds=0.7)
    fn.update_state([1, 1, 0], [0.3, 0.8, 0.1])
    assert fn.result() == 1.0
    assert fn.get_config() == {"name": "false_negatives", "dtype": None, "thresholds": [0.7]}


def test_threshold_errors():
    with pytest.raises(
        ValueError, match=r"`thresholds` of TruePositives.*Received: thresholds=1.5"
    ):
        metrics.TruePositives(thresholds=1.5)
    with pytest.raises(
        ValueError, match=r"`num_thresholds` of PrecisionAtRecall.*num_thresholds=0"
    ):
        metrics.PrecisionAtRecall(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match=r"`recall` of PrecisionAtRecall.*Received: recall=2"):
        metrics.PrecisionAtRecall(2)
    with pytest.raises(ValueError, match="does not support `top_k`"):
        metrics.Precision(top_k=2)


def test_keras_documented_examples():
    m = metrics.SensitivityAtSpecificity(0.5)
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    assert m.result() == 0.5
    m = metrics.SensitivityAtSpecificity(0.4, num_thresholds=1)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == 0.5
    m = metrics.PrecisionAtRecall(0.5)
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8], sample_weight=[2, 2, 2, 1, 1])
    assert m.result() == pytest.approx(0.33333333)


def test_rate_at_rate_against_a_brute_force_search(rng):
    t, p = _data(rng)
    p = np.round(p, 2)  # predictions on the 0.01 grid that the 101 thresholds resolve
    m = metrics.PrecisionAtRecall(recall=0.8, num_thresholds=101)
    m.update_state(t, p)
    s = metrics.SensitivityAtSpecificity(specificity=0.7, num_thresholds=101)
    s.update_state(t, p)
    best_precision, best_sensitivity = 0.0, 0.0
    positive = t == 1
    for threshold in np.unique(p):
        predicted = p >= threshold
        tp = (predicted & positive).sum()
        recall, precision = tp / positive.sum(), tp / predicted.sum()
        specificity = (~predicted & ~positive).sum() / (~positive).sum()
        if recall >= 0.8:
            best_precision = max(best_precision, precision)
        if specificity >= 0.7:
            best_sensitivity = max(best_sensitivity, recall)
    assert m.result() == pytest.approx(best_precision)
    assert s.result() == pytest.approx(best_sensitivity)


def test_precision_class_id_and_config_round_trip():
    m = metrics.Precision(class_id=1)
    m.update_state(
        np.array([[0, 1], [1, 0], [0, 1]]), np.array([[0.2, 0.9], [0.1, 0.8], [0.9, 0.1]])
    )
    assert m.result() == 0.5
    twin = metrics.deserialize(metrics.serialize(metrics.PrecisionAtRecall(0.3, num_thresholds=50)))
    assert (twin.value, twin.num_thresholds) == (0.3, 50)

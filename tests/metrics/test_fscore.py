import numpy as np
import pytest

from npkeras import metrics

sk = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_matches_scikit_learn(rng, average):
    labels = rng.integers(0, 4, 120)
    scores = rng.random((120, 4)) + 0.8 * np.eye(4)[labels]
    m = metrics.F1Score(average=average)
    for start in range(0, 120, 50):
        m.update_state(np.eye(4)[labels[start : start + 50]], scores[start : start + 50])
    expected = sk.f1_score(labels, scores.argmax(1), average=average)
    np.testing.assert_allclose(m.result(), expected, rtol=1e-5)


def test_fbeta_with_threshold_and_weights(rng):
    y = rng.integers(0, 2, (80, 3))
    p = rng.random((80, 3))
    w = rng.random(80)
    m = metrics.FBetaScore(average="macro", beta=2.0, threshold=0.4)
    m.update_state(y, p, sample_weight=w)
    expected = sk.fbeta_score(y, p > 0.4, beta=2.0, average="macro", sample_weight=w)
    assert m.result() == pytest.approx(expected, rel=1e-5)


def test_fbeta_errors():
    with pytest.raises(ValueError, match=r"Invalid `average` argument value.*average='mean'"):
        metrics.FBetaScore(average="mean")
    with pytest.raises(ValueError, match=r"Invalid `beta` argument value.*beta=0"):
        metrics.FBetaScore(beta=0)
    with pytest.raises(ValueError, match=r"Invalid `threshold` argument value.*threshold=1.5"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match=r"same shape \(batch_size, num_classes\)"):
        metrics.F1Score().update_state([0, 1], [[0.2, 0.8], [0.6, 0.4]])


def test_f1_reset_and_config():
    m = metrics.F1Score(average="micro", threshold=0.5)
    m.update_state(np.eye(2), np.eye(2))
    assert m.result() == pytest.approx(1.0, abs=1e-6)
    m.reset_state()
    assert m.result() == 0.0
    assert metrics.F1Score.from_config(m.get_config()).threshold == 0.5

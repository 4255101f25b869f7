import numpy as np
import pytest

from npkeras import metrics

sk = pytest.importorskip("sklearn.metrics")


def test_mean_iou_matches_scikit_learn_jaccard(rng):
    t = rng.integers(0, 3, (4, 8, 8))
    p = np.where(rng.random((4, 8, 8)) < 0.6, t, rng.integers(0, 3, (4, 8, 8)))
    m = metrics.MeanIoU(num_classes=3)
    m.update_state(t[:2], p[:2])
    m.update_state(t[2:], p[2:])
    assert m.result() == pytest.approx(sk.jaccard_score(t.ravel(), p.ravel(), average="macro"))


def test_mean_iou_dense_inputs_ignore_class_and_weights():
    t = np.array([0, 1, 2, 2])
    scores = np.eye(3)[[0, 2, 2, 1]]
    m = metrics.MeanIoU(num_classes=3, sparse_y_pred=False, ignore_class=1)
    m.update_state(t, scores)
    # ignoring label 1: class 0 iou 1, class 2: tp 1 / (1 + 1 fn) = 0.5, class 1: 0 / 1
    assert m.result() == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    w = metrics.MeanIoU(num_classes=2)
    w.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.2, 0.5, 0.4, 0.3])
    assert w.result() == pytest.approx((0.2 / (0.2 + 0.5 + 0.4) + 0.3 / (0.3 + 0.5 + 0.4)) / 2)
    with pytest.raises(ValueError, match=r"`num_classes` of MeanIoU.*num_classes=0"):
        metrics.MeanIoU(num_classes=0)
    with pytest.raises(ValueError, match=r"predicted classes outside \[0, 2\): \[5\]"):
        metrics.MeanIoU(num_classes=2).update_state([0, 1], [0, 5])


def test_cosine_similarity_and_log_cosh(rng):
    t, p = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    cos = (t * p).sum(1) / np.linalg.norm(t, axis=1) / np.linalg.norm(p, axis=1)
    m = metrics.CosineSimilarity()
    m.update_state(t, p)
    assert m.result() == pytest.approx(cos.mean())
    lc = metrics.LogCoshError()
    lc.update_state(t, p)
    assert lc.name == "logcosh"
    assert lc.result() == pytest.approx(np.log(np.cosh(p - t)).mean())
    np.testing.assert_allclose(metrics.log_cosh(t, p), np.log(np.cosh(p - t)).mean(-1))


def test_function_forms(rng):
    labels = np.array([2, 0, 1])
    scores = np.array([[0.1, 0.2, 0.7], [0.3, 0.5, 0.2], [0.2, 0.7, 0.1]])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, scores), [1, 0, 1])
    np.testing.assert_array_equal(
        metrics.categorical_accuracy(np.eye(3)[labels], scores), [1, 0, 1]
    )
    np.testing.assert_array_equal(
        metrics.sparse_top_k_categorical_accuracy(labels, scores, k=2), [1, 1, 1]
    )
    np.testing.assert_allclose(
        metrics.binary_crossentropy([[1.0], [0.0]], [[0.8], [0.4]]),
        [-np.log(0.8), -np.log(0.6)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(metrics.mse([[1.0, 2.0]], [[2.0, 4.0]]), [2.5])
    m = metrics.BinaryCrossentropy()
    m.update_state([[1.0], [0.0]], [[0.8], [0.4]])
    assert m.result() == pytest.approx((-np.log(0.8) - np.log(0.6)) / 2, rel=1e-6)

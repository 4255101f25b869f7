"""The scikit-learn wrappers: sklearn's own estimator checks, then the uses people rely on
(Pipeline, GridSearchCV, cross_val_score, clone, string labels, sample weights)."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import npkeras as keras
from npkeras.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer


def mlp(X, y, hidden=8, loss="mse", output_activation=None, learning_rate=0.05, seed=0):
    """A small MLP sized from the data, as the Keras docs' `dynamic_model`. Seeding here
    makes every fit reproducible, which sklearn's idempotency checks need."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(X.shape[1],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(y.shape[1] if y.ndim == 2 else 1, activation=output_activation),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


CLASSIFIER_KWARGS = {"loss": "categorical_crossentropy", "output_activation": "softmax"}
FAST_FIT = {"epochs": 3, "batch_size": 64, "verbose": 0}

# Every check passes (none is expected to fail). sklearn itself skips these, and says why:
# - check_pipeline_consistency (all three), check_transformer_general and
#   check_transformer_data_not_an_array: the wrappers carry the `non_deterministic` tag, as
#   Keras's do (weights start from random draws unless the model function seeds them);
# - check_array_api_input (all three): only runs with SCIPY_ARRAY_API=1 set.
# `poor_score` is set, as in Keras, so accuracy floors are relaxed for few-epoch models.
EXPECTED_FAILED_CHECKS = {"SKLearnClassifier": {}, "SKLearnRegressor": {}, "SKLearnTransformer": {}}


def _estimators():
    return [
        SKLearnClassifier(mlp, model_kwargs=CLASSIFIER_KWARGS, fit_kwargs=FAST_FIT),
        SKLearnRegressor(mlp, fit_kwargs=FAST_FIT),
        SKLearnTransformer(mlp, fit_kwargs=FAST_FIT),
    ]


@parametrize_with_checks(
    _estimators(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def blobs(n=60, seed=0):
    """Two separable groups of 2-D points with string labels."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(-2, 0.5, (n // 2, 2)), rng.normal(2, 0.5, (n // 2, 2))])
    y = np.array(["cat"] * (n // 2) + ["dog"] * (n // 2))
    return X.astype("float32"), y


def classifier(**fit_kwargs):
    return SKLearnClassifier(
        mlp,
        model_kwargs=CLASSIFIER_KWARGS,
        fit_kwargs={"epochs": 30, "batch_size": 16, "verbose": 0, **fit_kwargs},
    )


def test_classifier_string_labels_classes_and_proba():
    X, y = blobs()
    clf = classifier().fit(X, y)
    assert clf.classes_.tolist() == ["cat", "dog"]
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert clf.predict(X).tolist() == y.tolist()
    assert clf.score(X, y) == 1.0
    assert clf.n_features_in_ == 2


def test_classifier_sparse_loss_gets_integer_targets():
    X, y = blobs()
    seen = {}

    def sparse_model(X, y):
        model = mlp(X, y, **{**CLASSIFIER_KWARGS, "loss": "sparse_categorical_crossentropy"})
        fit = model.fit

        def recording_fit(x, targets, **kwargs):
            seen["y"] = targets
            return fit(x, targets, **kwargs)

        model.fit = recording_fit
        return model

    clf = SKLearnClassifier(sparse_model, fit_kwargs={"epochs": 30, "batch_size": 16, "verbose": 0})
    assert clf.fit(X, y).score(X, y) == 1.0
    assert seen["y"].tolist() == [0] * 30 + [1] * 30


def test_classifier_single_sigmoid_unit_for_two_classes():
    X, y = blobs()

    def one_sigmoid_unit(X, y):  # y arrives one-hot (2 columns); build a single output unit
        return mlp(X, y[:, 1:], loss="binary_crossentropy", output_activation="sigmoid")

    clf = SKLearnClassifier(
        one_sigmoid_unit, fit_kwargs={"epochs": 30, "batch_size": 16, "verbose": 0}
    )
    clf.fit(X, y)
    assert clf.model_.output_shape == (None, 1)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 0], 1.0 - proba[:, 1], atol=1e-6)
    assert clf.score(X, y) == 1.0


def test_sample_weight_reaches_the_model():
    X, y = blobs()
    weights = np.where(y == "cat", 0.0, 1.0)  # only dogs count: the model learns "dog" everywhere
    clf = classifier().fit(X, y, sample_weight=weights)
    assert (clf.predict(X) == "dog").mean() > 0.9


def test_pipeline_grid_search_and_cross_val_score():
    X, y = blobs()
    pipe = make_pipeline(StandardScaler(), classifier())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() == 1.0
    grid = GridSearchCV(
        pipe,
        {
            "sklearnclassifier__model_kwargs": [
                {**CLASSIFIER_KWARGS, "hidden": 2},
                {**CLASSIFIER_KWARGS, "hidden": 4},
            ]
        },
        cv=2,
    )
    grid.fit(X, y)
    assert grid.best_params_["sklearnclassifier__model_kwargs"]["hidden"] in (2, 4)
    assert grid.score(X, y) == 1.0


def test_clone_keeps_params_and_copies_a_model_instance():
    X, y = blobs()
    model = mlp(X, np.zeros((1, 2)), **CLASSIFIER_KWARGS)
    clf = SKLearnClassifier(model, fit_kwargs={"epochs": 30, "verbose": 0})
    copy = clone(clf)
    assert copy.model is not model
    assert copy.get_params()["fit_kwargs"] == {"epochs": 30, "verbose": 0}
    before = model.get_weights()
    copy.fit(X, y)
    # fit trains a fresh clone: the instance given by the user keeps its weights
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert copy.score(X, y) == 1.0
    clf.set_params(warm_start=True)
    assert clf.get_params()["warm_start"] is True


def test_warm_start_continues_the_fitted_model():
    X, y = blobs()
    clf = classifier(epochs=1).set_params(warm_start=True)
    first = clf.fit(X, y).model_
    assert clf.fit(X, y).model_ is first
    cold = classifier(epochs=1)
    first = cold.fit(X, y).model_
    assert cold.fit(X, y).model_ is not first


def test_regressor_and_transformer_shapes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype("float32")
    y = X @ np.array([1.0, -2.0, 0.5], dtype="float32")
    reg = SKLearnRegressor(mlp, fit_kwargs={"epochs": 100, "verbose": 0}).fit(X, y)
    assert reg.predict(X).shape == (40,) and reg.score(X, y) > 0.9
    both = SKLearnRegressor(mlp, fit_kwargs={"epochs": 2, "verbose": 0}).fit(X, np.c_[y, -y])
    assert both.predict(X).shape == (40, 2)
    features = SKLearnTransformer(mlp, fit_kwargs={"epochs": 2, "verbose": 0}).fit(X, X[:, :2])
    assert features.transform(X).shape == (40, 2)


def test_errors_name_the_problem():
    X, y = blobs()
    with pytest.raises(ValueError, match="at least 2 classes to train; received one class"):
        classifier().fit(X, np.full(60, "cat"))
    with pytest.raises(ValueError, match="binary and multiclass targets; received a 'continuous'"):
        classifier().fit(X, np.linspace(0, 1, 60))
    uncompiled = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="must be compiled"):
        SKLearnClassifier(uncompiled).fit(X, y)
    with pytest.raises(TypeError, match="must return a compiled npkeras Model"):
        SKLearnClassifier(lambda X, y: "model").fit(X, y)
    with pytest.raises(TypeError, match="must be a compiled npkeras Model or a callable"):
        SKLearnRegressor(3).fit(X, np.zeros(60))

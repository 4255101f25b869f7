"""scikit-learn estimators around compiled npkeras models (Keras 3's wrappers).

Each wrapper takes ``model``: a compiled model, or a callable ``model(X=X, y=y,
**model_kwargs)`` returning one (it sees the encoded targets, so it can size the output
layer from ``y.shape[1]``). ``fit`` trains a fresh copy (a freshly initialised clone of a
model instance, or a new model from the callable) unless ``warm_start=True`` and a fitted
model exists; ``fit_kwargs`` and keyword arguments of ``fit`` go to ``model.fit``.
"""

from __future__ import annotations

import copy

from npkeras import optimizers
from npkeras.backend import host_xp
from npkeras.models.model import Model
from npkeras.saving.format import model_from_json
from npkeras.utils import to_categorical

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # scikit-learn is an optional extra: plain bases keep the import working
    BaseEstimator = ClassifierMixin = RegressorMixin = TransformerMixin = object
    type_of_target = check_is_fitted = validate_data = None


def _require_sklearn(owner):
    if validate_data is None:
        raise ImportError(
            f"{owner} needs scikit-learn>=1.6. Install it with `pip install scikit-learn` "
            "(or `pip install npkeras[sklearn]`)."
        )


def clone_compiled_model(model):
    """A freshly initialised copy of a compiled ``model`` with the same compile settings."""

    if not getattr(model, "compiled", False):
        raise ValueError(
            f"The model passed to a scikit-learn wrapper must be compiled; model '{model.name}' "
            "is not. Call model.compile(optimizer=..., loss=...) first, or pass a function "
            "that returns a compiled model."
        )
    fresh = model_from_json(model.to_json())
    args = copy.deepcopy(model._compile_args)
    fresh.compile(optimizer=optimizers.get(optimizers.serialize(model.optimizer)), **args)
    return fresh


class SKLBase(BaseEstimator):
    """Shared logic of the three wrappers (see the module docstring for the arguments)."""

    def __init__(
        self,
        model,
        warm_start: bool = False,
        model_kwargs: dict | None = None,
        fit_kwargs: dict | None = None,
    ):
        _require_sklearn(type(self).__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True  # weights start from random draws
        tags.target_tags.multi_output = not self._encodes_labels  # regression: y may be (n, k)
        return tags

    def __sklearn_clone__(self):
        # a model instance is copied, never shared, so a clone's fit leaves the original alone
        model = (
            self.model
            if callable(self.model) and not hasattr(self.model, "fit")
            else (copy.deepcopy(self.model))
        )
        return type(self)(
            model=model,
            warm_start=self.warm_start,
            model_kwargs=copy.deepcopy(self.model_kwargs),
            fit_kwargs=copy.deepcopy(self.fit_kwargs),
        )

    def _build_model(self, X, y):

        if isinstance(self.model, Model):
            return clone_compiled_model(self.model)
        if not callable(self.model):
            raise TypeError(
                f"`model` of {type(self).__name__} must be a compiled npkeras Model or a callable "
                f"returning one; received {type(self.model).__name__}."
            )
        model = self.model(X=X, y=y, **(self.model_kwargs or {}))
        if not isinstance(model, Model) or not model.compiled:
            raise TypeError(
                f"The `model` callable of {type(self).__name__} must return a compiled npkeras "
                f"Model; it returned {model!r}."
            )
        return model

    def fit(self, X, y, **kwargs):
        """Train on ``X`` (n_samples, n_features) and ``y``; ``kwargs`` go to ``model.fit``
        (``sample_weight``, ``epochs``...), overriding ``fit_kwargs``."""
        X, y = validate_data(
            self,
            X,
            y,
            dtype="float32",
            y_numeric=not self._encodes_labels,
            multi_output=not self._encodes_labels,
        )
        targets = self._encode_targets(y, reset=True)
        if self.warm_start and hasattr(self, "model_"):
            model = self.model_
        else:
            model = self._build_model(X, targets)
        targets = self._targets_for(model, targets)
        options = {**(self.fit_kwargs or {}), **kwargs}
        if options.get("sample_weight") is not None:
            options["sample_weight"] = host_xp.asarray(options["sample_weight"], dtype="float32")
        self.model_ = model
        self.history_ = model.fit(X, targets, **options).history
        return self

    def _predict_raw(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype="float32", reset=False)
        return self.model_.predict(X, verbose=0)

    # regression-style targets: float columns, 1-D in and out
    _encodes_labels = False

    def _encode_targets(self, y, reset):
        y = host_xp.asarray(y, dtype="float32")
        if reset:
            self._target_is_vector = y.ndim == 1
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _targets_for(self, model, targets):
        return targets

    def _decode_outputs(self, outputs):
        outputs = outputs.astype("float64")  # sklearn regressors predict in float64
        return outputs.ravel() if self._target_is_vector and outputs.shape[1] == 1 else outputs


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier around a compiled npkeras model.

    Labels may be any sortable values (strings too); ``classes_`` holds them in sorted
    order. The model sees them as Keras does: one-hot rows, or integer indices when it
    was compiled with ``sparse_categorical_crossentropy``, or one 0/1 column when it
    has a single (sigmoid) output for two classes.

    Args:
        model: a compiled ``Model``, or a callable ``model(X=..., y=..., **model_kwargs)``
            returning one (``y`` is one-hot).
        warm_start: keep training the fitted model on the next ``fit``.
        model_kwargs: keyword arguments for the ``model`` callable.
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``...).

    >>> import numpy as np
    >>> import npkeras as keras
    >>> def make_model(X, y):
    ...     model = keras.Sequential([keras.Input(shape=(X.shape[1],)),
    ...                               keras.layers.Dense(y.shape[1], activation="softmax")])
    ...     model.compile(optimizer=keras.optimizers.Adam(0.1), loss="categorical_crossentropy")
    ...     return model
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]])
    >>> clf = SKLearnClassifier(make_model, fit_kwargs={"epochs": 60, "verbose": 0})
    >>> clf.fit(X, ["low", "low", "high", "high"]).predict([[0.05], [0.95]]).tolist()
    ['low', 'high']
    """

    _encodes_labels = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags

    def _encode_targets(self, y, reset):

        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{type(self).__name__} supports binary and multiclass targets; received a "
                f"'{kind}' target. Pass one label per sample."
            )
        y = host_xp.asarray(y).ravel() if host_xp.asarray(y).ndim == 2 else host_xp.asarray(y)
        if reset:
            self.classes_ = host_xp.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes to train; "
                    f"received one class: {self.classes_.tolist()}."
                )
        return to_categorical(host_xp.searchsorted(self.classes_, y), len(self.classes_))

    def _targets_for(self, model, one_hot):
        loss_name = getattr((model._compiled_losses or [None])[0], "name", "")
        if model.output_shape[-1] == 1 and len(self.classes_) == 2:
            return one_hot[:, 1:]  # one sigmoid unit: the probability of classes_[1]
        if loss_name.startswith("sparse_"):
            return host_xp.argmax(one_hot, axis=1)  # integer class indices
        return one_hot

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        proba = self._predict_raw(X)
        if proba.shape[1] == 1:
            return host_xp.concatenate([1.0 - proba, proba], axis=1)
        return proba

    def predict(self, X):
        """The most probable label of each sample (from ``classes_``)."""
        best = host_xp.argmax(
            self.predict_proba(X), axis=1
        )  # checks fitted before classes_ is read
        return self.classes_[best]


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around a compiled npkeras model.

    ``y`` of shape ``(n,)`` reaches the model as ``(n, 1)`` and predictions come back as
    ``(n,)``; ``(n, k)`` targets stay 2-D. Arguments as :class:`SKLearnClassifier`.

    >>> import numpy as np
    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.3), loss="mse")
    >>> reg = SKLearnRegressor(model, fit_kwargs={"epochs": 200, "verbose": 0})
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> reg.fit(X, 2 * X[:, 0] + 1).predict([[3.0]]).round(1).tolist()
    [7.0]
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def predict(self, X):
        """Model outputs, 1-D when the training targets were."""
        return self._decode_outputs(self._predict_raw(X))


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer whose ``transform`` is the fitted model's ``predict``
    (e.g. an encoder trained to reconstruct or predict ``y``). Arguments as
    :class:`SKLearnClassifier`.

    >>> import numpy as np
    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> X = np.ones((4, 3))
    >>> SKLearnTransformer(model, fit_kwargs={"verbose": 0}).fit(X, X[:, :2]).transform(X).shape
    (4, 2)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # models compute in float32
        return tags

    def transform(self, X):
        """The model's outputs for ``X``, shape ``(n_samples, n_outputs)``."""
        return self._predict_raw(X)

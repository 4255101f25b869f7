"""scikit-learn wrappers with Keras 3's names: ``keras.wrappers.SKLearnClassifier``...

scikit-learn is an optional extra (``pip install npkeras[sklearn]``); importing this
package works without it, and constructing a wrapper then says what to install.
"""

from npkeras.wrappers.sklearn_wrapper import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]

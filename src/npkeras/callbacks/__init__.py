"""Training callbacks with Keras names."""

from npkeras.callbacks.base import Callback, CallbackList, History
from npkeras.callbacks.checkpoint import BackupAndRestore, ModelCheckpoint
from npkeras.callbacks.gradients import GradientStats
from npkeras.callbacks.misc import CSVLogger, LambdaCallback, LearningRateScheduler, TerminateOnNaN
from npkeras.callbacks.monitor import EarlyStopping, ReduceLROnPlateau
from npkeras.callbacks.progbar import ProgbarLogger
from npkeras.callbacks.tensorboard import TensorBoard

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "TerminateOnNaN",
    "LambdaCallback",
    "CSVLogger",
    "ProgbarLogger",
    "ModelCheckpoint",
    "BackupAndRestore",
    "GradientStats",
    "TensorBoard",
]

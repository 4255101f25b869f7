"""Intersection-over-union metrics for segmentation and classification."""

from __future__ import annotations

from npkeras.backend import to_float, xp
from npkeras.metrics.base import Metric, weights_for


class MeanIoU(Metric):
    """Mean over classes of tp / (tp + fp + fn), from a confusion matrix over all batches.

    Classes that never appear in targets or predictions are left out of the mean.

    Args:
        num_classes: the number of classes (labels are 0 .. num_classes - 1).
        name, dtype: as for every metric.
        ignore_class: a label whose pixels/samples are left out (e.g. a void class).
        sparse_y_true: whether y_true holds integer labels (else one-hot along ``axis``).
        sparse_y_pred: whether y_pred holds integer labels (else scores along ``axis``).
        axis: the class axis of one-hot / score inputs.

    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 6)
    0.333333
    """

    direction = "up"

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(name or "mean_io_u", dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                "Invalid value for `num_classes` of MeanIoU, expected a positive integer. "
                f"Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = int(axis)
        self.total_cm = self.add_variable(
            (num_classes, num_classes), "zeros", name="total_confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = xp.asarray(y_true)
        y_pred = xp.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = xp.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = xp.argmax(y_pred, axis=self.axis)
        labels = y_true.reshape(-1).astype("int64")
        predictions = y_pred.reshape(-1).astype("int64")
        if labels.shape != predictions.shape:
            raise ValueError(
                f"MeanIoU needs as many labels as predictions; received {labels.size} labels "
                f"and {predictions.size} predictions."
            )
        w = weights_for(y_true.astype("float64"), sample_weight)
        w = xp.ones(labels.shape) if w is None else w.reshape(-1)
        keep = (labels >= 0) & (labels < self.num_classes)
        if self.ignore_class is not None:
            keep &= labels != self.ignore_class
        bad = predictions[keep]
        if bad.size and (int(bad.min()) < 0 or int(bad.max()) >= self.num_classes):
            raise ValueError(
                f"MeanIoU received predicted classes outside [0, {self.num_classes})"
                f": {sorted(set(bad[(bad < 0) | (bad >= self.num_classes)].tolist()))[:5]}."
            )
        index = labels[keep] * self.num_classes + predictions[keep]
        counts = xp.bincount(index, weights=w[keep], minlength=self.num_classes**2)
        self.total_cm.assign_add(counts.reshape(self.num_classes, self.num_classes))

    def result(self):
        cm = self.total_cm.value  # rows: true class, columns: predicted class
        tp = xp.diagonal(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        valid = denominator > 0
        if not valid.any():
            return 0.0
        return to_float((tp[valid] / denominator[valid]).sum() / valid.sum())

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }

"""Model export for other runtimes: ``model.export("m.onnx", format="onnx")``.

ONNX export needs the optional ``onnx`` package (``pip install npkeras[onnx]``).
"""

from __future__ import annotations

from npkeras import services
from npkeras.export.onnx import export_onnx

EXPORT_FORMATS = ("onnx",)


@services.provide("export_model")
def export_model(
    model, filepath, format: str = "tf_saved_model", verbose=None, input_signature=None, **kwargs
):
    """Write ``model`` to ``filepath`` in ``format`` (npkeras writes ``"onnx"``).

    Args:
        model: a built npkeras model.
        filepath: the file to write.
        format: ``"onnx"``. Keras's default ``"tf_saved_model"`` needs TensorFlow, so
            npkeras refuses it with a pointer to ``format="onnx"``.
        verbose: print where the file went (default True, as in Keras).
        input_signature: not supported: the graph takes the model's own input shapes
            with a free batch axis.
        **kwargs: ``opset_version`` for ONNX (default 17).
    """
    if format != "onnx":
        raise ValueError(
            f"npkeras cannot export format={format!r}: it exports {list(EXPORT_FORMATS)}. "
            "Call model.export(filepath, format='onnx') and serve the file with onnxruntime "
            "(TensorFlow SavedModel and OpenVINO need their own frameworks)."
        )
    if input_signature is not None:
        raise ValueError(
            "npkeras's ONNX export takes the model's own input shapes (with a free batch axis); "
            f"`input_signature` is not supported. Received: input_signature={input_signature!r}"
        )

    export_onnx(model, filepath, **kwargs)
    if verbose is None or verbose:
        print(f"Saved artifact at '{filepath}'.")


__all__ = ["EXPORT_FORMATS", "export_model"]

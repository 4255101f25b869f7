"""The ``npkeras`` command line: train, evaluate and predict on CSV files, and the demo.

Bad input gets one clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys

import npkeras as keras
from npkeras import demo
from npkeras.backend import host_xp
from npkeras.datasets.tabular import DataError, csv_columns, is_whole_number_column, load_csv
from npkeras.saving.safety import ModelFileError

EXAMPLES = {
    "train": "npkeras train houses.csv --target price --hidden 64,64 --epochs 50 "
    "--out houses.npkeras",
    "evaluate": "npkeras evaluate houses.npkeras test.csv --target price",
    "predict": "npkeras predict houses.npkeras new.csv --out predictions.csv",
    "summary": "npkeras summary houses.npkeras",
    "demo": "npkeras demo --out npkeras-demo --quick",
    "trace": "npkeras trace houses.npkeras houses.csv --rows 32 --plot step.png",
}
MAX_CLASSES_FROM_INTEGERS = 20


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line gets one line (not the usage block) and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help').\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="npkeras",
        description="Train and use neural networks on CSV files with npkeras.",
        epilog="Examples:\n  " + "\n  ".join(EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name, help_text):
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"Example:\n  {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    train = add("train", "Train a model on a CSV file and save it.")
    train.add_argument("data", help="CSV file with a header row")
    train.add_argument("--target", required=True, help="name of the column to predict")
    train.add_argument(
        "--task",
        choices=["regression", "classification"],
        help="default: inferred from the target column",
    )
    train.add_argument(
        "--hidden", default="64,64", help="hidden layer sizes, comma separated (default 64,64)"
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--optimizer", default="adam")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    train.add_argument("--validation-split", type=float, default=0.2)
    train.add_argument("--out", default="model.npkeras", help="where to save the model")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])

    evaluate = add("evaluate", "Report loss and metrics of a saved model on a CSV file.")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--target", help="default: the target the model was trained on")

    predict = add("predict", "Predict every row of a CSV file with a saved model.")
    predict.add_argument("model")
    predict.add_argument("data")
    predict.add_argument("--out", help="write predictions to this CSV (default: print them)")

    summary = add("summary", "Print a saved model's layers and parameter counts.")
    summary.add_argument("model")

    trace = add(
        "trace",
        "Show one training step of a saved model on the first rows of a CSV "
        "file, layer by layer (the model file is not changed).",
    )
    trace.add_argument("model")
    trace.add_argument("data")
    trace.add_argument("--target", help="default: the target the model was trained on")
    trace.add_argument(
        "--rows", type=int, default=32, help="batch size: the first ROWS rows (default 32)"
    )
    trace.add_argument("--plot", help="also draw the step to this image file (needs matplotlib)")
    trace.add_argument("--json", help="also write the report as JSON to this file")

    demo = add("demo", "Run the tutorial's experiment end to end, with pictures.")
    demo.add_argument("--out", default="npkeras-demo", help="output folder (default npkeras-demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quick", action="store_true", help="fewer epochs, for a fast check")
    return parser


def _infer_task(y) -> str:
    if y.dtype.kind in "US":
        return "classification"
    if is_whole_number_column(y) and len(host_xp.unique(y)) <= MAX_CLASSES_FROM_INTEGERS:
        return "classification"
    return "regression"


def _check_writable(path, what):
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(
            f"cannot write {what} to '{path}': the folder does not exist or is not writable."
        )


def _positive_float(option: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} must be a finite number > 0; received {value!r}.")
    return value


def _hidden_sizes(text: str) -> list:
    try:
        sizes = [int(h) for h in text.split(",") if h.strip()]
    except ValueError:
        sizes = None
    if sizes is None or any(h < 1 for h in sizes):
        raise UsageError(
            f"--hidden must be comma-separated positive integers, like 64,64; received {text!r}."
        )
    return sizes


def _named(option: str, getter, name: str):
    """``getter(name)`` (an activation or optimizer), or a UsageError listing the names."""
    try:
        return getter(name)
    except ValueError as err:
        raise UsageError(f"{option}: {err}") from None


def _check_train_options(args):
    """(hidden sizes, optimizer) from the options, each checked as the library would
    check it, so that a bad option fails before the data is read."""
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be positive integers.")
    if args.seed < 0:
        raise UsageError(f"--seed must be an integer >= 0; received {args.seed}.")
    _positive_float("--lr", args.lr)
    split = args.validation_split
    if not (math.isfinite(split) and 0 <= split < 1):
        raise UsageError(f"--validation-split must be a fraction in [0, 1); received {split!r}.")
    hidden = _hidden_sizes(args.hidden)
    _named("--activation", keras.activations.get, args.activation)
    return hidden, _named("--optimizer", keras.optimizers.get, args.optimizer)


def _check_rows(n_rows: int, split: float, path):
    """Training needs two rows, and a validation split that leaves rows on both sides
    (Keras keeps the first floor(n * (1 - split)) rows for training)."""
    if n_rows < 2:
        raise UsageError(f"'{path}' has {n_rows} data row; training needs at least 2.")
    kept = math.floor(n_rows * (1 - split))
    if split > 0 and not 0 < kept < n_rows:
        raise UsageError(
            f"--validation-split {split} of {n_rows} rows leaves {kept} for training and "
            f"{n_rows - kept} for validation; both need at least one (or pass 0)."
        )


def _train(args) -> int:
    hidden, optimizer = _check_train_options(args)
    _check_writable(args.out, "the model")
    table = load_csv(args.data, target=args.target)
    _check_rows(len(table.features), args.validation_split, args.data)
    task = args.task or _infer_task(table.target)
    keras.utils.set_random_seed(args.seed)
    x = table.features
    metadata = {"task": task, "features": table.feature_names, "target": table.target_name}
    norm = keras.layers.Normalization(name="feature_scaling")
    norm.adapt(x)
    layers = [keras.Input(shape=(x.shape[1],)), norm]
    layers += [keras.layers.Dense(h, activation=args.activation) for h in hidden]
    if task == "classification":
        labels = sorted(set(table.target.tolist()), key=lambda v: (isinstance(v, str), v))
        index = {label: i for i, label in enumerate(labels)}
        y = host_xp.asarray([index[v] for v in table.target.tolist()])
        metadata["labels"] = [v if isinstance(v, str) else float(v) for v in labels]
        layers.append(
            keras.layers.Dense(len(labels), activation="softmax", name="class_probabilities")
        )
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        if table.target.dtype.kind in "US":
            raise UsageError(
                f"target '{args.target}' holds text, so it cannot be a regression target; "
                "use --task classification."
            )
        y = table.target.astype("float32")
        layers.append(keras.layers.Dense(1, name="prediction"))
        scale = keras.layers.Normalization(invert=True, name="target_scaling")
        scale.adapt(y[:, None])
        layers.append(scale)
        loss, metrics = "mse", ["mae", "r2_score"]
    model = keras.Sequential(layers, name="npkeras_cli_model")
    model.metadata = metadata
    optimizer.learning_rate = args.lr
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    print(
        f"Training a {task} model on {len(x)} rows, {x.shape[1]} features "
        f"({', '.join(table.feature_names)}) -> '{args.target}'"
    )
    history = model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=args.verbose,
    )
    model.save(args.out)
    final = {k: v[-1] for k, v in history.history.items()}
    print("Final: " + ", ".join(f"{k} {v:.4f}" for k, v in final.items()))
    print(f"Saved the model to {args.out}")
    return 0


def _load(path):
    """A saved model and its CLI metadata ({} for a model not made by ``npkeras train``)."""
    model = keras.models.load_model(path)
    meta = getattr(model, "metadata", None) or {}
    problem = _metadata_problem(meta, model)
    if problem:
        raise UsageError(f"'{path}' has damaged npkeras-train metadata: {problem}.")
    return model, meta


def _metadata_problem(meta, model) -> str | None:
    """What is wrong with the metadata ``npkeras train`` wrote, or None."""
    if not isinstance(meta, dict):
        return "it is not a dict"
    if meta.get("task", "regression") not in ("regression", "classification"):
        return f"unknown task {meta['task']!r}"
    features = meta.get("features")
    if features is not None and (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) for f in features)
        or len(set(features)) != len(features)
    ):
        return "'features' must be a list of distinct column names"
    if meta.get("target") is not None and not isinstance(meta["target"], str):
        return "'target' must be a column name"
    if meta.get("task") == "classification":
        labels = meta.get("labels")
        outputs = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
        if (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in labels)
            or (outputs is not None and outputs != len(labels))
        ):
            return "'labels' must list one class per model output"
    return None


def _run_model(call, *args, **kwargs):
    """``call(*args, **kwargs)`` (predict or evaluate); a model that cannot take the data
    is a usage error."""
    try:
        return call(*args, **kwargs)
    except ValueError as err:
        raise UsageError(f"the model cannot take this data: {err}") from None


def _features_for(meta, path, target=None):
    """The model's feature columns of ``path`` (and ``target`` when given), checked."""
    expected = meta.get("features")
    if expected is None:
        return load_csv(path, target=target), meta
    have = csv_columns(path)
    allowed_extra = {target, meta.get("target")} - {None}
    missing = [c for c in expected if c not in have]
    extra = [c for c in have if c not in expected and c not in allowed_extra]
    if missing or extra:
        raise UsageError(
            f"the columns of '{path}' differ from the ones the model was trained on: "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}."
        )
    if target is not None and target not in have:
        raise UsageError(
            f"'{path}' has no target column '{target}'. Columns are: {', '.join(have)}."
        )
    return load_csv(path, target=target, features=expected), meta


def _encode_target(meta, y):
    if meta and meta.get("task") == "classification":
        labels = meta["labels"]
        index = {(v if isinstance(v, str) else float(v)): i for i, v in enumerate(labels)}
        try:
            return host_xp.asarray(
                [index[v if isinstance(v, str) else float(v)] for v in y.tolist()]
            )
        except KeyError as err:
            raise UsageError(
                f"the target holds a class the model never saw: {err}. Known classes: {labels}."
            ) from None
    return y.astype("float32")


def _evaluate(args) -> int:
    model, meta = _load(args.model)
    target = args.target or meta.get("target")
    if target is None:
        raise UsageError("the model does not record its target column; pass --target.")
    table, meta = _features_for(meta, args.data, target)
    logs = _run_model(
        model.evaluate,
        table.features,
        _encode_target(meta, table.target),
        verbose=0,
        return_dict=True,
    )
    print(", ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return 0


def _predict(args) -> int:
    model, meta = _load(args.model)
    if args.out:
        _check_writable(args.out, "predictions")
    table, meta = _features_for(meta, args.data)
    outputs = _run_model(model.predict, table.features, verbose=0)
    header = [(meta or {}).get("target") or "prediction"]
    if meta and meta.get("task") == "classification":
        labels = meta["labels"]
        rows = [
            [labels[int(i)]] + [f"{p:.6g}" for p in probs]
            for i, probs in zip(outputs.argmax(axis=1), outputs)
        ]
        header = header + [f"p({label})" for label in labels]
    else:
        rows = [[f"{v:.6g}" for v in row] for row in outputs.reshape(len(outputs), -1)]
        if len(rows[0]) > 1:
            header = [f"output_{i}" for i in range(len(rows[0]))]
    if not args.out:
        csv.writer(sys.stdout).writerows([header, *rows])
        return 0
    try:
        with open(args.out, "w", newline="") as stream:
            csv.writer(stream).writerows([header, *rows])
    except OSError as err:  # a full disk, a quota: name the file
        raise UsageError(
            f"cannot write predictions to '{args.out}': {err.strerror or err}."
        ) from None
    print(f"Wrote {len(rows)} predictions to {args.out}")
    return 0


def _summary(args) -> int:
    _load(args.model)[0].summary()
    return 0


def _trace(args) -> int:
    if args.rows < 1:
        raise UsageError(f"--rows must be a positive integer; received {args.rows}.")
    for path, what in ((args.plot, "the picture"), (args.json, "the report")):
        if path:
            _check_writable(path, what)
    model, meta = _load(args.model)
    if not model.compiled:
        raise UsageError(
            f"'{args.model}' was saved without a loss and optimizer (not compiled), "
            "so it has no training step to trace."
        )
    target = args.target or meta.get("target")
    if target is None:
        raise UsageError("the model does not record its target column; pass --target.")
    table, meta = _features_for(meta, args.data, target)
    rows = slice(0, args.rows)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install npkeras[plot].") from None
    report = model.trace_step(
        table.features[rows], _encode_target(meta, table.target[rows]), plot_path=args.plot
    )
    if args.plot:
        print(f"Drew the step to {args.plot}")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(report, stream, indent=1)
        print(f"Wrote the report to {args.json}")
    return 0


def _demo(args) -> int:

    results = demo.run(out=args.out, seed=args.seed, quick=args.quick)
    return (
        0
        if results["coefficients_ok"] and results["r2_high_ok"] and results["reload_identical"]
        else 1
    )


def main(argv=None) -> int:
    """Entry point of the ``npkeras`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    handlers = {
        "train": _train,
        "evaluate": _evaluate,
        "predict": _predict,
        "summary": _summary,
        "demo": _demo,
        "trace": _trace,
    }
    try:
        return handlers[args.command](args)
    except BrokenPipeError:  # output piped into a command that stopped reading (head)
        sys.stderr.close()
        return 0
    except (UsageError, DataError, ModelFileError, OSError) as err:  # OSError: a path, disk full
        print(f"npkeras {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"npkeras {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

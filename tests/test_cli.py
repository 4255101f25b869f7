import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "npkeras", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    reg = folder / "houses.csv"
    with open(reg, "w") as f:
        f.write("rooms,age,distance,price\n")
        for r in x:
            f.write(f"{r[0]},{r[1]},{r[2]},{100 + 30 * r[0] - 10 * r[1] + 5 * r[2]}\n")
    cls = folder / "pets.csv"
    with open(cls, "w") as f:
        f.write("weight,height,ears,kind\n")
        for r in x:
            f.write(f"{r[0]},{r[1]},{r[2]},{'cat' if r[0] + r[1] > 0 else 'dog'}\n")
    return folder, reg, cls


def test_train_evaluate_predict_regression(csvs):
    folder, reg, _ = csvs
    model = folder / "houses.npkeras"
    code, out, err = run(
        "train",
        reg,
        "--target",
        "price",
        "--epochs",
        "40",
        "--hidden",
        "16",
        "--lr",
        "0.01",
        "--out",
        model,
        "--verbose",
        "0",
    )
    assert code == 0, err
    assert (
        "Training a regression model on 400 rows, 3 features (rooms, age, distance) -> 'price'"
        in out
    )
    assert f"Saved the model to {model}" in out
    code, out, err = run("evaluate", model, reg)
    assert code == 0, err
    r2 = float(out.split("r2_score: ")[1].split(",")[0])
    assert r2 > 0.98
    preds = folder / "preds.csv"
    code, out, err = run("predict", model, reg, "--out", preds)
    assert code == 0 and "Wrote 400 predictions" in out
    lines = preds.read_text().splitlines()
    assert lines[0] == "price" and len(lines) == 401


def test_train_classification_with_string_labels(csvs):
    folder, _, cls = csvs
    model = folder / "pets.npkeras"
    code, out, err = run(
        "train", cls, "--target", "kind", "--epochs", "30", "--out", model, "--verbose", "2"
    )
    assert code == 0, err
    assert "classification model" in out and "accuracy" in out and "Epoch 30/30" in out
    code, out, _ = run("evaluate", model, cls)
    assert float(out.split("accuracy: ")[1]) > 0.9
    code, out, _ = run("predict", model, cls)
    rows = out.splitlines()
    assert rows[0] == "kind,p(cat),p(dog)" and rows[1].split(",")[0] in ("cat", "dog")
    code, out, _ = run("summary", model)
    assert code == 0 and "class_probabilities (Dense)" in out and "Total params" in out


def test_help_for_every_command():
    for command in ("train", "evaluate", "predict", "summary", "demo"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Example:" in out and "npkeras " + command in out


@pytest.mark.parametrize(
    "case",
    [
        "missing_file",
        "missing_target",
        "text_feature",
        "empty",
        "nan",
        "columns_differ",
        "unwritable",
        "bad_model_file",
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(csvs, tmp_path, case):
    folder, reg, cls = csvs
    if case == "missing_file":
        args, expected = ("train", tmp_path / "nope.csv", "--target", "y"), "No such file"
    elif case == "missing_target":
        args, expected = (
            ("train", reg, "--target", "prize"),
            "has no column 'prize'. Columns are: rooms, age, distance, price",
        )
    elif case == "text_feature":
        args, expected = ("train", cls, "--target", "weight"), "Feature column 'kind'"
    elif case == "empty":
        (tmp_path / "empty.csv").write_text("")
        args, expected = ("train", tmp_path / "empty.csv", "--target", "y"), "is empty"
    elif case == "nan":
        (tmp_path / "nan.csv").write_text("a,b,y\n1,2,3\n4,,6\n")
        args, expected = (
            ("train", tmp_path / "nan.csv", "--target", "y"),
            "missing or non-finite values (empty, NaN, inf or too large for float32) in "
            "column(s) b at line(s) 3",
        )
    elif case == "columns_differ":
        model = tmp_path / "m.npkeras"
        assert (
            run(
                "train", reg, "--target", "price", "--epochs", "1", "--out", model, "--verbose", "0"
            )[0]
            == 0
        )
        (tmp_path / "other.csv").write_text("rooms,age,floors\n1,2,3\n")
        args, expected = (
            ("predict", model, tmp_path / "other.csv"),
            "missing ['distance'], unexpected ['floors']",
        )
    elif case == "unwritable":
        args, expected = (
            ("train", reg, "--target", "price", "--out", tmp_path / "no" / "m.npkeras"),
            "cannot write the model",
        )
    else:
        (tmp_path / "bad.npkeras").write_text("not a model")
        args, expected = ("summary", tmp_path / "bad.npkeras"), "is not an npkeras model file"
    code, out, err = run(*args)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- issue 15: every bad option or unreadable CSV gets one line and exit code 2 -------------

GOOD_ROWS = "a,b,y\n1,2,3\n4,5,6\n7,8,9\n1,1,1\n2,2,2\n"


def _main(capsys, *args):
    """Run the CLI in this process (an uncaught exception fails the test); (code, stderr)."""
    from npkeras import cli

    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err


def _one_line(err):
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--lr", "nan"], "--lr must be a finite number > 0; received nan."),
        (["--lr", "inf"], "--lr must be a finite number > 0; received inf."),
        (["--lr", "1e400"], "--lr must be a finite number > 0; received inf."),
        (["--lr", "-0.1"], "--lr must be a finite number > 0; received -0.1."),
        (
            ["--hidden", "4,-2"],
            ("--hidden must be comma-separated positive integers, like 64,64; received '4,-2'."),
        ),
        (["--hidden", "4,x"], "--hidden must be comma-separated positive integers"),
        (
            ["--validation-split", "1.5"],
            "--validation-split must be a fraction in [0, 1); received 1.5.",
        ),
        (
            ["--validation-split", "nan"],
            "--validation-split must be a fraction in [0, 1); received nan.",
        ),
        (
            ["--activation", "sigmod"],
            "--activation: Unknown activation: 'sigmod'. Did you mean 'sigmoid'?",
        ),
        (["--optimizer", "adamm"], "--optimizer: Unknown optimizer: 'adamm'. Did you mean 'adam'?"),
        (["--seed", "-1"], "--seed must be an integer >= 0; received -1."),
        (
            ["--epochs", "x"],
            "argument --epochs: invalid int value: 'x' (see 'npkeras train --help').",
        ),
        (["--validation-split", "0.1", "--batch-size", "2"], None),  # fine: 4 rows + 1
    ],
)
def test_bad_train_options_get_one_line(tmp_path, capsys, option, expected):
    data = tmp_path / "ok.csv"
    data.write_text(GOOD_ROWS)
    code, err = _main(
        capsys,
        "train",
        data,
        "--target",
        "y",
        "--epochs",
        "1",
        "--verbose",
        "0",
        "--out",
        tmp_path / "m.npkeras",
        *option,
    )
    if expected is None:
        assert code == 0, err
        return
    assert code == 2 and _one_line(err)
    assert expected in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b,y\n1,2,3\n4,\xff5,6\n", "is not UTF-8 text: byte 0xff on line 3 cannot be decoded"),
        (b"a,b,y\n1,2,3\n4,5\n", "line 3 has 2 fields; the header has 3"),
        (b"a,b,y\n1,2,3\n4,5,6,7\n", "line 3 has 4 fields; the header has 3"),
        (
            b'a,b,y\n1,2,3\n4,"5,6\n7,8,9\n',
            ("is not valid CSV at line 4: unexpected end of data (an unterminated quote?)"),
        ),
        (b"a,b,y\n1,2,3\n", "has 1 data row; training needs at least 2"),
        (
            b"a,b,y\n1,2,3\n4,inf,6\n5,6,7\n",
            (
                "missing or non-finite values (empty, NaN, inf or too large "
                "for float32) in column(s) b at line(s) 3"
            ),
        ),
        (
            b"a,b,y\n1,2,3\n4,1e400,6\n5,6,7\n",
            (
                "non-finite values (empty, NaN, inf or too large for "
                "float32) in column(s) b at line(s) 3"
            ),
        ),
        (b"a,b,y\n1,2,3\n4," + b"9" * 500 + b",6\n5,6,7\n", "in column(s) b at line(s) 3"),
        (b"a,b,y\n1,2,3\n4,1e39,6\n5,6,7\n", "in column(s) b at line(s) 3"),
        (b"a,b,y\n1,2,3\n4,5,-inf\n5,6,7\n", "in column(s) y at line(s) 3"),
        (b"a,a,y\n1,2,3\n4,5,6\n5,6,7\n", "has two columns named 'a' (columns 1 and 2)"),
        (b"a, ,y\n1,2,3\n4,5,6\n", "column 2 has no name in the header row"),
        (b"a,b,y\n1,2,3\n\n4,5,6\n5,6,\n", "in column(s) y at line(s) 5"),  # blank lines count
        (b"a,b,y\n1,2,cat\n4,5,\n5,6,dog\n", "has empty or NaN cells at line(s) 3"),
    ],
)
def test_unreadable_csv_gets_one_line(tmp_path, capsys, content, expected):
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    code, err = _main(
        capsys,
        "train",
        data,
        "--target",
        "y",
        "--epochs",
        "1",
        "--verbose",
        "0",
        "--out",
        tmp_path / "m.npkeras",
    )
    assert code == 2 and _one_line(err)
    assert expected in err


def test_a_csv_with_a_bom_and_blank_lines_is_read(tmp_path):
    from npkeras.datasets import load_csv

    data = tmp_path / "bom.csv"
    data.write_bytes(b"\xef\xbb\xbfa,b,y\n1,2,3\n\n4,5,6\n")
    table = load_csv(data, target="y")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(table.target, [3, 6])


@pytest.fixture
def trained(tmp_path, capsys):
    data = tmp_path / "ok.csv"
    data.write_text(
        GOOD_ROWS.replace("y\n", "kind\n")
        .replace(",3\n", ",cat\n")
        .replace(",6\n", ",dog\n")
        .replace(",9\n", ",cat\n")
        .replace(",1\n", ",dog\n")
        .replace(",2\n", ",cat\n")
    )
    model = tmp_path / "m.npkeras"
    code, err = _main(
        capsys, "train", data, "--target", "kind", "--epochs", "1", "--verbose", "0", "--out", model
    )
    assert code == 0, err
    return data, model


def _with_metadata(path, edit):
    import zipfile

    from tests.saving import hostile

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    def change(config):
        edit(config["metadata"])

    hostile.write_model(path, hostile.config_edit(members, change), fix_checksums=False)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m.update(labels=["cat"]), "'labels' must list one class per model output"),
        (lambda m: m.update(labels=5), "'labels' must list one class per model output"),
        (
            lambda m: m.update(features=["a", "a"]),
            "'features' must be a list of distinct column names",
        ),
        (lambda m: m.update(task="poetry"), "unknown task 'poetry'"),
        (lambda m: m.update(target=3), "'target' must be a column name"),
    ],
)
def test_damaged_cli_metadata_gets_one_line(trained, capsys, edit, expected):
    data, model = trained
    _with_metadata(model, edit)
    for command in (("predict", model, data), ("evaluate", model, data)):
        code, err = _main(capsys, *command)
        assert code == 2 and _one_line(err)
        assert f"has damaged npkeras-train metadata: {expected}." in err


def test_a_tampered_model_file_gets_one_line(trained, capsys):
    data, model = trained
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    model.write_bytes(bytes(raw))
    code, err = _main(capsys, "predict", model, data)
    assert code == 2 and _one_line(err) and "npkeras predict: error: " in err


def test_a_model_whose_inputs_differ_gets_one_line(trained, tmp_path, capsys):
    _, model = trained
    _with_metadata(model, lambda m: m.pop("features"))
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b,c\n1,2,3\n")
    code, err = _main(capsys, "predict", model, wide)
    assert code == 2 and _one_line(err)
    assert "the model cannot take this data: " in err


def test_a_full_disk_while_writing_predictions_names_the_file(
    trained, tmp_path, capsys, monkeypatch
):
    import csv
    import errno

    data, model = trained

    class FullDisk:
        def __init__(self, stream):
            pass

        def writerows(self, rows):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv, "writer", FullDisk)
    out = tmp_path / "p.csv"
    code, err = _main(capsys, "predict", model, data, "--out", out)
    assert code == 2 and _one_line(err)
    assert f"cannot write predictions to '{out}': No space left on device." in err

import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "npkeras", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
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
    code, out, err = run("train", reg, "--target", "price", "--epochs", "40", "--hidden", "16",
                         "--lr", "0.01", "--out", model, "--verbose", "0")
    assert code == 0, err
    assert "Training a regression model on 400 rows, 3 features (rooms, age, distance) -> 'price'" in out
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
    code, out, err = run("train", cls, "--target", "kind", "--epochs", "30", "--out", model, "--verbose", "2")
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


@pytest.mark.parametrize("case", ["missing_file", "missing_target", "text_feature", "empty", "nan",
                                  "columns_differ", "unwritable", "bad_model_file"])
def test_bad_input_gets_one_line_and_exit_code_2(csvs, tmp_path, case):
    folder, reg, cls = csvs
    if case == "missing_file":
        args, expected = ("train", tmp_path / "nope.csv", "--target", "y"), "No such file"
    elif case == "missing_target":
        args, expected = ("train", reg, "--target", "prize"), "has no column 'prize'. Columns are: rooms, age, distance, price"
    elif case == "text_feature":
        args, expected = ("train", cls, "--target", "weight"), "Feature column 'kind'"
    elif case == "empty":
        (tmp_path / "empty.csv").write_text("")
        args, expected = ("train", tmp_path / "empty.csv", "--target", "y"), "is empty"
    elif case == "nan":
        (tmp_path / "nan.csv").write_text("a,b,y\n1,2,3\n4,,6\n")
        args, expected = ("train", tmp_path / "nan.csv", "--target", "y"), "missing or NaN values in column(s) b at line(s) 3"
    elif case == "columns_differ":
        model = tmp_path / "m.npkeras"
        assert run("train", reg, "--target", "price", "--epochs", "1", "--out", model, "--verbose", "0")[0] == 0
        (tmp_path / "other.csv").write_text("rooms,age,floors\n1,2,3\n")
        args, expected = ("predict", model, tmp_path / "other.csv"), "missing ['distance'], unexpected ['floors']"
    elif case == "unwritable":
        args, expected = ("train", reg, "--target", "price", "--out", tmp_path / "no" / "m.npkeras"), "cannot write the model"
    else:
        (tmp_path / "bad.npkeras").write_text("not a model")
        args, expected = ("summary", tmp_path / "bad.npkeras"), "is not an npkeras model file"
    code, out, err = run(*args)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

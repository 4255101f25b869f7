import numpy as np
import pytest

from npkeras import demo


@pytest.mark.slow
def test_quick_demo_reproduces_the_tutorial(tmp_path):
    lines = []
    results = demo.run(out=str(tmp_path), quick=True, print_fn=lines.append)
    assert (
        results["coefficients_ok"] and results["r2_high"] >= 0.9999 and results["reload_identical"]
    )
    assert results["model1"]["r2"] > 0.999
    text = "\n".join(lines)
    assert "coefficient check" in text and "PASSED" in text and "FAILED" not in text
    pytest.importorskip("matplotlib")
    from matplotlib import image

    for name in ("loss_model1", "loss_model2", "predictions_high", "activations_model1"):
        path = tmp_path / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = image.imread(path)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and np.ptp(pixels) > 0.1
    header = (tmp_path / "numbers.csv").read_text().splitlines()[0]
    assert header == "x,y,z,target"


def test_r2_score():
    assert demo.r2_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert demo.r2_score([1, 2, 3], [2, 2, 2]) == 0.0

"""The README's example runs as written and does what it says."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_example_runs(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        example = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
    assert len(example.strip().splitlines()) <= 15
    proc = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    weights = [float(v) for v in re.findall(r"[\d.]+", proc.stdout.strip().splitlines()[-1])]
    assert max(abs(w - t) for w, t in zip(weights, (1, 2, 3))) < 0.02
    assert "'r2_score': 0.999" in proc.stdout
    assert (tmp_path / "numbers.npkeras").exists()

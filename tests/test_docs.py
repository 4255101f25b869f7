"""Every ```python block of docs/*.md runs, page by page, as a reader would run it."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
PAGES = sorted(name for name in os.listdir(DOCS) if name.endswith(".md"))


def python_blocks(page: str) -> list:
    with open(os.path.join(DOCS, page)) as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.DOTALL | re.MULTILINE)


def test_every_page_is_linked_from_the_index_and_links_resolve():
    with open(os.path.join(DOCS, "index.md")) as f:
        index = f.read()
    assert {p for p in PAGES if p != "index.md"} <= set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    for page in PAGES:
        with open(os.path.join(DOCS, page)) as f:
            for target in re.findall(r"\]\(([^)#]+)\)", f.read()):
                assert os.path.exists(os.path.join(DOCS, target)), (
                    f"{page} links to missing {target}"
                )


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page, tmp_path):
    blocks = python_blocks(page)
    if page != "index.md":
        assert blocks, f"{page} has no Python example"
    script = "\n".join(blocks)  # the blocks of a page build on each other
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"{page}:\n{proc.stderr[-3000:]}"

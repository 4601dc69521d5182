"""Lecture mode: tagged cells run silently in Voila, markdown tagged away disappears."""
import json
from pathlib import Path

import nbformat
import pytest

from compresslab.lecture import SKIP_TAG, lecture_cells, lecture_mode_hook

ROOT = Path(__file__).resolve().parents[1]


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("x = 1\nprint(x)", metadata={"tags": [SKIP_TAG]}),
                nbformat.v4.new_markdown_cell("a long table follows", metadata={"tags": [SKIP_TAG]}),
                nbformat.v4.new_code_cell("x + 1")]
    return nb


def test_tagged_code_runs_silently_and_tagged_markdown_is_dropped():
    nb = lecture_cells(_notebook())
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].source == "%%capture\nx = 1\nprint(x)"
    assert nb.cells[2].source == "x + 1"


def test_the_hook_runs_the_notebook_as_lecture_mode_shows_it():
    from nbclient import NotebookClient

    nb = lecture_mode_hook(None, notebook=_notebook(), cwd=".")
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.cells[1].outputs == []                           # printed nothing
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "2"  # but x was defined


def test_voila_config_installs_the_hook(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("voila.py", path=str(ROOT / "tools")).load_config()
    assert config.VoilaConfiguration.prelaunch_hook is lecture_mode_hook
    assert config.VoilaConfiguration.strip_sources is True


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_tags_its_setup_for_lecture_mode(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if SKIP_TAG in c.get("metadata", {}).get("tags", [])]
    assert any(c["cell_type"] == "code" for c in tagged), f"{path.name}: tag the setup cell with {SKIP_TAG!r}"
    # a dashboard is what lecture mode is for: never hide it
    assert not any("dashboard" in "".join(c["source"]).lower() and c["cell_type"] == "code" for c in tagged)

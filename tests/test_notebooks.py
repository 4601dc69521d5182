"""Every notebook: committed clean, and runs top to bottom on a fresh kernel without an error.

No time is asserted here: a busy machine (other engineers, CI neighbours) can make a
notebook several times slower without anything being wrong. The time budgets are
reported by ``python -m compresslab.bench --notebooks``; the timeout below only
catches a hang.
"""
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# A hang guard, not a budget: under a load of ~10 on 2 cores notebook 02 took 1,370 s in all.
CELL_TIMEOUT_SECONDS = 1800


def test_there_are_notebooks():
    assert any(p.name == "00_introduction.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs_and_with_a_kernelspec(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:60]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_clean(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()                     # raises CellExecutionError on the first error
    executed = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    assert executed and all(cell.execution_count is not None for cell in executed)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"]


def test_every_notebook_is_driven_in_the_browser():
    from test_browser import DASHBOARD_STEPS

    assert sorted(DASHBOARD_STEPS) == [p.name for p in NOTEBOOKS]


def test_the_bench_reports_notebook_times_against_their_budgets(tmp_path):
    """The time budgets live in the bench (python -m compresslab.bench --notebooks), not in a test."""
    from compresslab.bench import NOTEBOOK_BUDGET_SECONDS, bench_notebooks

    assert set(NOTEBOOK_BUDGET_SECONDS) == {p.name for p in NOTEBOOKS}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7"), nbformat.v4.new_code_cell("x")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "00_introduction.ipynb")
    (row,) = bench_notebooks(tmp_path)
    assert row["notebook"] == "00_introduction.ipynb" and row["budget_s"] == 10.0
    assert row["verdict"] in ("within", f"OVER x{row['cells_s'] / 10:.1f}")
    assert "outputs" not in (tmp_path / "00_introduction.ipynb").read_text().replace('"outputs": []', "")


def test_the_bench_runs_notebooks_only_when_asked(monkeypatch, capsys):
    import compresslab.bench as bench

    ran = []
    monkeypatch.setattr(bench, "SECTIONS", {"core": (lambda: ran.append("core") or [], "core")})
    monkeypatch.setattr(bench, "OPT_IN", {"notebooks": (lambda: ran.append("notebooks") or [], "notebooks")})
    bench.main([])
    bench.main(["--notebooks"])
    bench.main(["core", "--notebooks"])
    assert ran == ["core", "notebooks", "core", "notebooks"]

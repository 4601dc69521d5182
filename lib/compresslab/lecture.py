"""Lecture mode: the notebooks as code-free apps, served by Voila.

``make present`` (and Binder's ``voila/render/...`` links) show the markdown,
the outputs and the live dashboards, never the code. Cells that only set
things up or print long tables carry the cell tag ``lecture-skip``: Voila
still runs them (later cells need what they compute) but shows nothing of
them. In JupyterLab every cell is shown as usual, for self-study.

Voila calls ``lecture_mode_hook`` on each notebook before its kernel starts
(``VoilaConfiguration.prelaunch_hook``, set in tools/voila.py, which
``make present``, ``make lab`` and Binder's postBuild install as the
environment's ``etc/jupyter/voila.py``).
"""
from __future__ import annotations

SKIP_TAG = "lecture-skip"


def lecture_cells(notebook, tag: str = SKIP_TAG):
    """The notebook as lecture mode shows it: a ``tag``-ged code cell runs silently
    (``%%capture`` keeps its output), a tagged markdown cell is dropped."""
    cells = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if tag not in tags:
            cells.append(cell)
        elif cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = "%%capture\n" + source
            cells.append(cell)
    notebook["cells"] = cells
    return notebook


def lecture_mode_hook(request_handler, notebook, cwd):
    """Voila's prelaunch hook: edits the in-memory notebook only, never the file."""
    return lecture_cells(notebook)

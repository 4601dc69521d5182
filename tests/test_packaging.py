"""The files that set up the suite agree with each other."""
import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:                                    # Python 3.10
    import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_and_pyproject_name_the_same_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = {_name(r) for r in project["dependencies"]}
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:")
    conda = {_name(line.strip()[2:]) for line in lines[start + 1:] if line.strip().startswith("- ")}
    conda -= {"python", "pip"}
    assert pyproject == conda
    assert {"numpy", "scipy", "scikit-learn", "matplotlib", "ipympl", "ipywidgets", "jupyterlab", "tqdm",
            "ipykernel", "voila", "psutil"} == pyproject      # ipykernel: pinned below 7, see pyproject.toml


def test_the_kernel_is_pinned_below_7_in_both_files():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "ipykernel>=6.25,<7" in project["dependencies"]
    assert "ipykernel>=6.25,<7" in (ROOT / "environment.yml").read_text()


def test_environment_yml_uses_conda_forge_and_lab_4_widgets_8():
    text = (ROOT / "environment.yml").read_text()
    assert "- conda-forge" in text
    assert "jupyterlab>=4" in text and "ipywidgets>=8" in text


def test_postbuild_installs_the_package_strictly():
    text = (ROOT / "postBuild").read_text()
    assert "set -euo pipefail" in text
    assert "pip install --no-deps -e ." in text
    assert (ROOT / "postBuild").stat().st_mode & 0o111
    assert not (ROOT / "binder").exists()        # it would hide the root files from Binder


def test_readme_shows_the_two_commands_first_and_links_every_notebook():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"urlpath=lab/tree/notebooks/{notebook.name}" in readme, notebook.name
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    makefile = (ROOT / "Makefile").read_text()
    assert "--LabApp.default_url=/lab/tree/notebooks/00_introduction.ipynb" in makefile
    assert "--ip=127.0.0.1" in makefile


def test_lab_overrides_switch_off_the_news_prompt_for_make_lab_and_binder():
    import json

    overrides = json.loads((ROOT / "tools" / "lab-overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    # widget comms on the main shell: ipympl must not draw while a cell runs (ipympl#610)
    assert overrides["@jupyterlab/apputils-extension:kernels-settings"]["commsOverSubshells"] == "disabled"
    assert "lab-overrides.json" in (ROOT / "Makefile").read_text()
    assert "lab-overrides.json" in (ROOT / "postBuild").read_text()


def test_lecture_mode_is_installed_by_make_and_by_binder():
    makefile, post_build = (ROOT / "Makefile").read_text(), (ROOT / "postBuild").read_text()
    assert "cp tools/voila.py $(VENV)/etc/jupyter/voila.py" in makefile
    assert 'cp tools/voila.py "$etc/voila.py"' in post_build
    assert "voila notebooks/ --no-browser --Voila.ip=127.0.0.1" in makefile and "--token" in makefile


def test_the_git_filter_keeps_committed_notebooks_clean():
    """`make lab` installs nbstripout as a git filter: the committed notebooks must already be
    what the filter writes (ids kept), or `git status` is dirty before anything ran."""
    import subprocess
    import sys

    makefile = (ROOT / "Makefile").read_text()
    assert "-m nbstripout --keep-id" in makefile
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cleaned = subprocess.run([sys.executable, "-m", "nbstripout", "-t", "--keep-id", str(path)],
                                 capture_output=True, text=True, check=True).stdout
        assert cleaned == path.read_text(), path.name

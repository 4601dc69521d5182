import subprocess
import sys


def test_import_is_fast_and_light():
    code = ("import time, sys; t = time.perf_counter(); import compresslab; "
            "print(time.perf_counter() - t, 'matplotlib' in sys.modules, 'ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    seconds, mpl, widgets = out.split()
    assert float(seconds) < 0.5
    assert mpl == "False" and widgets == "False"


def test_public_names():
    from compresslab.data import load_dataset  # noqa: F401
    from compresslab.metrics import Report, compression_rate, evaluate, speedup  # noqa: F401
    from compresslab.models import load_pretrained, train_baseline  # noqa: F401
    from compresslab.network import Network, from_sklearn  # noqa: F401
    from compresslab.training import train  # noqa: F401
    import compresslab

    for name in compresslab.__all__:
        assert getattr(compresslab, name) is not None

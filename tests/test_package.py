import subprocess
import sys


def test_import_is_light():
    """import compresslab loads neither matplotlib, ipywidgets nor scikit-learn (its time: the bench)."""
    code = ("import sys; import compresslab; "
            "print(*[m in sys.modules for m in ('matplotlib', 'ipywidgets', 'sklearn', 'scipy')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"] * 4
    core = ("import sys; from compresslab import metrics, training, lowrank, quantization; "
            "print(*[m in sys.modules for m in ('matplotlib', 'ipywidgets')])")
    out = subprocess.run([sys.executable, "-c", core], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"] * 2                 # core modules: numpy, scipy, scikit-learn only


def test_public_names():
    from compresslab.data import load_dataset  # noqa: F401
    from compresslab.metrics import Report, compression_rate, evaluate, speedup  # noqa: F401
    from compresslab.models import load_pretrained, train_baseline  # noqa: F401
    from compresslab.network import Network, from_sklearn  # noqa: F401
    from compresslab.training import train  # noqa: F401
    import compresslab

    for name in compresslab.__all__:
        assert getattr(compresslab, name) is not None

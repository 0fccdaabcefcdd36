"""medkern and oneDAL (scikit-learn-intelex) share one oneTBB runtime in one process, in
either import order (medkern loads the newest libtbb.so.12 of the environment first)."""
import subprocess
import sys

import pytest

pytest.importorskip("sklearnex")


@pytest.mark.parametrize("order", ["medkern, sklearnex", "sklearnex, medkern"])
def test_medkern_and_sklearnex_import_together(order):
    code = (f"import {order}\n"
            "import numpy as np\n"
            "from sklearnex.decomposition import PCA\n"
            "x = np.random.default_rng(0).normal(size=(200, 8))\n"
            "PCA(n_components=2).fit(x)\n"
            "y = medkern.ops.conv2d(np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32))\n"
            "assert float(y.sum()) == 36.0\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]

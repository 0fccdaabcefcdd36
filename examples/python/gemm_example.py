"""matmul through medkern in f32, bf16 and int8, checked against numpy.

Run: python examples/python/gemm_example.py
"""

import numpy as np

import medkern


def main() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((96, 200), dtype=np.float32)
    b = rng.standard_normal((200, 80), dtype=np.float32)
    c = medkern.matmul(a, b)
    err = float(np.abs(c - a.astype(np.float64) @ b).max())
    c16 = medkern.matmul_bf16(a, b)
    err16 = float(np.abs(c16 - a.astype(np.float64) @ b).max())
    qa = rng.integers(0, 256, (96, 200), dtype=np.uint8)
    qb = rng.integers(-128, 128, (200, 80), dtype=np.int8)
    exact = np.array_equal(medkern.matmul_u8s8(qa, qb), qa.astype(np.int64) @ qb)
    print(f"medkern {medkern.__version__} on {medkern.get_isa()}: f32 max error {err:.2e}, "
          f"bf16 max error {err16:.2e}, u8s8 exact: {exact}")
    assert err < 1e-3 and err16 < 1.0 and exact


if __name__ == "__main__":
    main()

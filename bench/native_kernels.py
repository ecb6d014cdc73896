"""Micro-benchmarks of the native kernels (safenet_native) against numpy.

Run:  python bench/native_kernels.py [--repeats N]

Prints median wall-clock times over repeats for
  * cross3 on 10^6 elements        vs numpy xa*ya + xa*yb + xb*ya
  * matmul_cross3 128x784 @ 784x128 vs numpy uint64 XA@YA + XA@YB + XB@YA (and one A@B)
  * aes_ctr, 2*10^6 uint64 words    AES-NI path vs portable software AES
and checks that native and numpy results agree.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import safenet_native as sn


def median_ms(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def row(label: str, ms: float, ref_ms: float | None = None, ref_label: str = "") -> None:
    extra = f"   ({ref_label} {ref_ms:9.3f} ms, speedup x{ref_ms / ms:6.1f})" if ref_ms else ""
    print(f"  {label:<34s} {ms:9.3f} ms{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=21, help="timed repeats per measurement")
    args = ap.parse_args()
    r = args.repeats
    rng = np.random.default_rng(0)

    info = sn.build_info()
    print(f"safenet_native {info['version']}: {info['compiler']}, arch={info['arch']}, "
          f"simd={info['simd_bits']} bit, avx512={info['avx512_compiled']}, "
          f"aesni compiled={info['aesni_compiled']} runtime={sn.has_aesni()}")
    print(f"flags: {info['flags']}")
    print(f"median of {r} repeats:")

    # ---- cross3, 10^6 elements
    n = 10**6
    xa, xb, ya, yb = (rng.integers(0, 2**64, n, dtype=np.uint64) for _ in range(4))
    out = np.empty(n, dtype=np.uint64)

    def np_cross3():
        return xa * ya + xa * yb + xb * ya

    assert np.array_equal(sn.cross3(xa, xb, ya, yb), np_cross3())
    t_np = median_ms(np_cross3, r)
    row("cross3 1e6 (fresh output)", median_ms(lambda: sn.cross3(xa, xb, ya, yb), r), t_np, "numpy")
    row("cross3 1e6 (out=)", median_ms(lambda: sn.cross3(xa, xb, ya, yb, out=out), r), t_np, "numpy")

    # ---- matmul_cross3, 128x784 @ 784x128
    m, k, nn = 128, 784, 128
    XA, XB = (rng.integers(0, 2**64, (m, k), dtype=np.uint64) for _ in range(2))
    YA, YB = (rng.integers(0, 2**64, (k, nn), dtype=np.uint64) for _ in range(2))

    def np_mc3():
        return XA @ YA + XA @ YB + XB @ YA

    assert np.array_equal(sn.matmul_cross3(XA, XB, YA, YB), np_mc3())
    r_np = max(3, r // 4)  # numpy's integer matmul is slow
    t_np3 = median_ms(np_mc3, r_np)
    t_np1 = median_ms(lambda: XA @ YA, r_np)
    t_mc3 = median_ms(lambda: sn.matmul_cross3(XA, XB, YA, YB), r)
    row("matmul_cross3 128x784x128", t_mc3, t_np3, "numpy 3 matmuls")
    row("  (vs a single numpy A@B)", t_mc3, t_np1, "numpy A@B")
    row("matmul 128x784x128", median_ms(lambda: sn.matmul(XA, YA), r), t_np1, "numpy A@B")

    # ---- AES-CTR, 2*10^6 words
    key = bytes(range(16))
    n_aes = 2 * 10**6
    assert np.array_equal(sn.aes_ctr(key, 1, 0, 1001), sn.aes_ctr_portable(key, 1, 0, 1001))
    t_port = median_ms(lambda: sn.aes_ctr_portable(key, 1, 0, n_aes), max(3, r // 4))
    label = "aes_ctr 2e6 words (AES-NI)" if sn.has_aesni() else "aes_ctr 2e6 words (no AES-NI!)"
    row(label, median_ms(lambda: sn.aes_ctr(key, 1, 0, n_aes), r), t_port, "portable")
    row("aes_ctr_portable 2e6 words", t_port)


if __name__ == "__main__":
    main()

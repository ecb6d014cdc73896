"""4-party replicated sharing with active security (abort): Fantastic Four
(Dalskov, Escudero, Keller, USENIX Security 2021).

Files, the same in every protocol folder: protocol.py (slot layout, keys,
batched hash checks, the class), io.py (input, external input, reveal),
arithmetic.py (mul, dot, matmul, truncation, fixed point).
"""
from .protocol import Rep4  # noqa: F401

"""3-party replicated secret sharing over Z_2^64 (Araki et al.; ABY3 truncation).

Files, the same in every protocol folder: protocol.py (slot layout, keys,
the class), io.py (input, external input, reveal), arithmetic.py (mul, dot,
matmul, truncation, fixed point).
"""
from .protocol import Rep3  # noqa: F401

"""3-party replicated secret sharing over Z_2^64 (Araki et al.; ABY3 truncation).

Files, the same in every protocol folder: protocol.py (slot layout, keys,
the class), io.py (input, external input, reveal), arithmetic.py (mul, dot,
matmul, truncation, fixed point), boolean.py (XOR sharing, AND gates, bit
packing), conversion.py (a2b, b2a, the leader / helpers split, daBits),
compare.py (ltz, eqz, ltz_mul; bounded inputs with bits=k).
"""
from .protocol import Rep3  # noqa: F401

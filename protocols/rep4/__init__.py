"""4-party replicated sharing with active security (abort): Fantastic Four
(Dalskov, Escudero, Keller, USENIX Security 2021).

Files, the same in every protocol folder: protocol.py (slot layout, keys,
batched hash checks, the class), io.py (input, external input, reveal),
arithmetic.py (mul, dot, matmul, truncation, fixed point), boolean.py (XOR
sharing of packed 64-bit words, AND gates), compare.py (ltz / eqz / ltz_mul /
relu, a2b, b2a: the two pairs' addends, a nibble carry tree, daBits). The
generic non-linear layer (protocols.nonlinear: comparisons, select, clamp,
max / argmax, one-hot, sigmoid, exp, reciprocal, softmax) is mixed in.
"""
from .protocol import Rep4  # noqa: F401

"""Rep3 boolean (XOR) sharing over packed 64-bit words. Imports mpcore,
protocols.base, protocols.boolean_local.

Sharing: a word array b = b0 ^ b1 ^ b2; party i holds (b_i, b_{i+1}), the
same slot layout (and the same pair keys) as the arithmetic sharing. Each
uint64 word carries 64 independent bits, so one AND "gate" on a word is 64
ANDs. A boolean value is a `BoolShared` (protocols.base), which arithmetic
ops refuse.

Ops (rounds, 64-bit words sent by each party):
  xor, xor_public, and_public, not_, shl_bits, shr_bits   local   (0, 0)
  and_      z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ a_i, a_i the XOR
            zero share (F(k_next) ^ F(k_prev)); z_i goes to party i-1:
                                                          (1, words)
  and_many  several AND pairs, one round                  (1, sum of words)
  reveal_bits  party i sends slot i+1 to party i-1        (1, words)
  input_bits   like arithmetic input, XOR instead of +    (1, 2*words by the owner)

The bit-packing helpers of the comparison circuits are in protocols.bitpack.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ring import as_ring_array
from protocols.base import broadcast_shape, op
from protocols.boolean_local import BooleanLocal


class Rep3Boolean(BooleanLocal):
    # (containers, checks and local ops: protocols.boolean_local)
    def zero_bits(self, shape):
        """XOR sharing of zero: party i's a_i (the XOR over parties is 0)."""
        return self.k_next.next_like(shape) ^ self.k_prev.next_like(shape)

    # ---- AND gates ---------------------------------------------------------------
    def _and_local(self, x, y, op_name):
        shape = broadcast_shape(op_name, x.shape, y.shape)
        flat = [np.ascontiguousarray(np.broadcast_to(p, shape)).reshape(-1)
                for p in x.parts + y.parts]
        zero = self.zero_bits(flat[0].shape)
        return native.and_cross3(*flat, zero=zero).reshape(shape)

    def _reshare_bits(self, z):
        """3-out-of-3 XOR z_i -> replicated (z_i, z_{i+1}). 1 round."""
        self.net.send(self.prev_party, z)
        z_next = self.net.recv(self.next_party, z.size).reshape(z.shape)
        return self.wrap_bits((z, z_next))

    @op("and_", lambda self, x, y: self.each(np.prod(np.broadcast_shapes(x.shape, y.shape))))
    def and_(self, x, y):
        """Bitwise AND of two boolean sharings (64 gates per word)."""
        self._mine_bits(x, "and_"), self._mine_bits(y, "and_", "y")
        return self._reshare_bits(self._and_local(x, y, "and_"))

    @op("and_many", lambda self, pairs: self.each(
        sum(int(np.prod(np.broadcast_shapes(x.shape, y.shape))) for x, y in pairs)))
    def and_many(self, pairs):
        """Several (x, y) AND pairs of any shapes in one round."""
        if not pairs:
            return []
        zs = [self._and_local(self._mine_bits(x, "and_many"), self._mine_bits(y, "and_many", "y"),
                              "and_many") for x, y in pairs]
        joint = self._reshare_bits(np.concatenate([z.reshape(-1) for z in zs]))
        out, pos = [], 0
        for z in zs:
            out.append(self.wrap_bits(p[pos:pos + z.size].reshape(z.shape) for p in joint.parts))
            pos += z.size
        return out

    # ---- input / output ------------------------------------------------------------
    @op("input_bits", lambda self, value, owner, shape=None: self.only(
        owner, 2 * (value.size if value is not None else int(np.prod(shape)))))
    def input_bits(self, value, owner, shape=None):
        """Boolean-share words given by party `owner` (the others pass None and
        the shape): slots owner and owner+1 from the owner's pair keys, the
        third slot (value ^ both) sent to its two holders."""
        i = self.party_id
        if owner not in (0, 1, 2):
            raise ValueError(f"input_bits: owner must be a party id in 0..2, got {owner}")
        if i == owner:
            value = as_ring_array(value, "input_bits value")
            shape = value.shape
        elif shape is None:
            raise ValueError(f"input_bits: party {i} is not the owner and must pass the shape")
        shape = tuple(shape)
        n = int(np.prod(shape))
        if i == owner:
            x_own = self.k_prev.next_like(shape)
            x_next = self.k_next.next_like(shape)
            masked = value ^ x_own ^ x_next
            self.net.send(self.next_party, masked)
            self.net.send(self.prev_party, masked)
            return self.wrap_bits((x_own, x_next))
        masked = self.net.recv(owner, n).reshape(shape)
        if i == (owner + 1) % 3:
            return self.wrap_bits((self.k_prev.next_like(shape), masked))
        return self.wrap_bits((masked, self.k_next.next_like(shape)))

    @op("reveal_bits", lambda self, x: self.each(x.size))
    def reveal_bits(self, x):
        """Open a boolean sharing to every party (uint64 words)."""
        self._mine_bits(x, "reveal_bits")
        self.net.send(self.prev_party, np.ascontiguousarray(x.parts[1]))
        missing = self.net.recv(self.next_party, x.size).reshape(x.shape)
        return x.parts[0] ^ x.parts[1] ^ missing

"""protocols: MPC protocols behind one interface (layer 3).

    ref    cleartext oracle and template (1 party)
    rep3   3-party replicated sharing, semi-honest (Araki et al., ABY3)
    rep4   4-party replicated sharing, actively secure with abort (Fantastic Four)

`run(program, protocol="rep3", ...)` runs `program(proto, *args)` on every
party of the named protocol through mpcore's launcher. Imports mpcore only.
"""
from mpcore.launcher import run_parties

from .base import Protocol, op  # noqa: F401
from .ref import Ref
from .rep3 import Rep3
from .rep4 import Rep4

PROTOCOLS = {"ref": Ref, "rep3": Rep3, "rep4": Rep4}


def protocol_class(name):
    """The protocol class registered under `name`; a Protocol subclass (for
    example a protocol under development) is returned as it is."""
    if isinstance(name, type) and issubclass(name, Protocol):
        return name
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; available: {', '.join(sorted(PROTOCOLS))}") from None


class _Program:
    """Builds the protocol on each party's session, runs the user program,
    completes pending checks."""

    def __init__(self, cls, program, options):
        self.cls, self.program, self.options = cls, program, options

    def __call__(self, session, *args):
        proto = self.cls(session, **self.options)
        value = self.program(proto, *args)
        proto.finish()
        return value


def run(program, protocol="rep3", *, args=(), party_args=None, transport="memory",
        processes=False, timeout=60.0, test_seed=None, options=None, network=None, **kwargs):
    """Run `program(proto, *args, *party_args[i])` on all parties of `protocol`.
    `network` (mpcore.netsim.NetworkProfile) emulates latency and bandwidth
    on every party's channels."""
    cls = protocol_class(protocol)
    if network is not None and network.active:
        from mpcore.netsim import emulate
        inner = kwargs.pop("net_wrapper", None)
        kwargs["net_wrapper"] = lambda i, net: emulate(inner(i, net) if inner else net, network)
    return run_parties(_Program(cls, program, options or {}), cls.n_parties, args=args,
                       party_args=party_args, transport=transport, processes=processes,
                       timeout=timeout, test_seed=test_seed, **kwargs)

"""Exception types of the engine. Imports nothing.

Every error that crosses a party boundary names the party it concerns, so a
user running parties on several machines can tell which one to look at.
"""


class MPCError(Exception):
    """Base class of all engine errors."""


class PartyError(MPCError):
    """Something went wrong with a specific peer. `peer` is its party id."""

    def __init__(self, message, peer=None):
        super().__init__(message)
        self.peer = peer


class PeerTimeout(PartyError):
    """A peer did not send an expected message within the timeout."""


class PeerLost(PartyError):
    """The connection to a peer closed before the run ended (it died or exited)."""


class PeerAborted(PartyError):
    """A peer aborted the run and told us why."""


class Unreachable(PartyError):
    """A peer could not be reached at start-up."""


class ProtocolDesync(PartyError):
    """A peer sent a message that does not belong to the current op or has the
    wrong size: a bug, a mismatched program, or a deviating party."""


class CheatingDetected(PartyError):
    """An actively secure protocol found inconsistent messages (abort)."""


class EncodingError(MPCError, ValueError):
    """A value cannot be encoded in the configured ring / fixed-point range."""


class RunFailed(MPCError):
    """Raised by the launcher: at least one party failed. `errors` holds every
    party's exception (None for parties that finished)."""

    def __init__(self, message, errors):
        super().__init__(message)
        self.errors = errors

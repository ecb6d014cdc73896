"""The cleartext reference protocol: the oracle and the template for new
protocols (same file names as every protocol folder)."""
from .protocol import Ref  # noqa: F401

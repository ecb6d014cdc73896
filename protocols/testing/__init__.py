"""Property-testing toolkit for protocol authors (importable, used by the
project's own tests): hypothesis strategies (`strategies`), the conformance
suite that checks every op against a cleartext oracle AND its declared cost
against the ledger (`conformance`). Imports mpcore, protocols, hypothesis.
"""

"""digest: email digests of an organisation's news for its members."""

__version__ = "0.1.0"

"""Route handlers: thin adapters from HTTP to :mod:`api.services` (no SQL here)."""

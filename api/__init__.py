"""api layer of onetrench (see design.md)."""

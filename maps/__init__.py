"""maps layer of onetrench (see design.md)."""

"""permits layer of onetrench (see design.md)."""

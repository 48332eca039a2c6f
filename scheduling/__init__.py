"""scheduling layer of onetrench (see design.md)."""

"""geo layer of onetrench (see design.md)."""

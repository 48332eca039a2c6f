"""onetrench — 同一路段、同一时段: joint road excavation coordination for Qijiang District.

The core package holds what every layer shares: settings, domain types and the exception
hierarchy. The layers themselves are the sibling packages ``geo``, ``scheduling``,
``permits``, ``maps`` and ``api`` (see ``design.md``).
"""

__version__ = "0.1.0"

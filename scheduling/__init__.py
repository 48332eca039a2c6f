"""scheduling layer of onetrench: what sharing a road means (design.md, "The rule, precisely", 3-5).

* :mod:`scheduling.findings` — ``evaluate(...)``: every finding, with zh/en message and fix.
* :mod:`scheduling.windows` — joint windows (least total shift) and the construction calendar.
* :mod:`scheduling.clearance_table` — GB 50289 / GB 50028 clear distances, as shipped data.
* :mod:`scheduling.optimise` — plan-wide dates with OR-Tools CP-SAT.
* :mod:`scheduling.bundles`, :mod:`scheduling.savings` — joint excavations and what they save.
* :mod:`scheduling.plan` — ``run_plan``, ``plan_to_json``, ``write_plan_outputs``.

Nothing here imports the web or database layers; inputs and outputs are domain objects.
"""

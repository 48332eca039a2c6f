"""permits layer of onetrench: one bundle → one joint excavation permit package (ZIP) for 渝快办.

See ``permits/README.md`` for the format. The public functions live in :mod:`permits.package`
(``build_package``, ``inspect_package``, ``read_package``, ``summary_text``); the manifest's JSON
Schema is ``permits/schema/manifest-v1.schema.json``.
"""

"""JSON Schemas of the permit package (``manifest-v1.schema.json``), shipped as package data."""

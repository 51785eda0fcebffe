"""Derived data computed beside ingest: service-graph edges per minute (see servicegraph)."""

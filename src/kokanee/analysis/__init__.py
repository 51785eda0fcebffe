"""Analyses over stored telemetry: pure algorithms over small records, no I/O."""

"""Recorded telemetry (Nezha, Jaeger, Zipkin, OTLP/JSON) into kokanee as OTLP: `kokanee import`."""

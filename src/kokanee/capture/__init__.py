"""Raw OTLP capture: the WAL's records kept as compressed segments in an object store, with
sessions, replay and retention over them."""

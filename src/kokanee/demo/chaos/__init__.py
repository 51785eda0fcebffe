"""The chaos suite: labelled faults injected the way SREs inject them (Chaos Mesh / Litmus), on
the demo shop and on generated call graphs, written as OTLP into a kokanee store so the root-cause
ranking can be scored on data it was never fitted to (`bench/rca_eval.py chaos`).

- `topologies`: the shop's call graph (its services and work times from `kokanee.demo.topology`)
  and generated graphs of 15-40 services with fan-out, async queues and databases;
- `faults`: the fault kinds and what each does to a pod's traffic;
- `sim`: one request's spans and log lines under the faults active at its time;
- `otlp`: records to OTLP protobuf export requests, stored through kokanee's own decoder;
- `suite`: scenarios (topology, seed, schedule of faults and fault-free windows) and their labels.
"""

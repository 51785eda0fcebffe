"""Alerting: rules evaluated over the derived tables, and notifications through a durable outbox.

rules (API, YAML file) ─► evaluator (closed minutes) ─► alert states ─► outbox ─► dispatcher ─► channels
                                                       pending → firing → resolved   retries, digests, rate limits
"""

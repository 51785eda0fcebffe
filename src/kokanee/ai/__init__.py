"""The AI layer: LLM providers behind one interface, task routing with fallbacks, questions to safe
SQL, grounded explanations, generated dashboards and the architecture review.

Every feature here also works with no model at all: the deterministic path is the last link of
every fallback chain.
"""

"""Root-cause analysis: which service (and operation) most likely caused what changed in a window.

`rank_causes(store, start_ns, end_ns, baseline)` is the entry point; see `ranker` for the method.
"""

from kokanee.analysis.rca.cause import Cause
from kokanee.analysis.rca.params import RcaParams
from kokanee.analysis.rca.ranker import rank_causes

__all__ = ["Cause", "RcaParams", "rank_causes"]

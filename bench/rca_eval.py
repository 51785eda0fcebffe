"""Root-cause ranking measured against published results, with kokanee's own `rank_causes`.

    .venv/bin/python bench/rca_eval.py sockshop   # RCAEval Sock Shop 1, metrics only
    .venv/bin/python bench/rca_eval.py nezha      # Nezha Train Ticket 2023-01-29, imported
    .venv/bin/python bench/rca_eval.py demo       # the demo shop's own faults, via POST /api/v1/rca
    .venv/bin/python bench/rca_eval.py autoencoder  # the trace autoencoder on Nezha's faults
    .venv/bin/python bench/rca_eval.py all

Archives are read from ../shared/datasets/ (relative to the project root) and unpacked under
/tmp/kokanee-rca-bench/. Hyperparameters are `RcaParams()`'s defaults for every case; a case's
label is read only after its ranking is made, to score it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from kokanee.analysis.rca import rank_causes
from kokanee.store.client import Store
from kokanee.store.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
SCRATCH = Path("/tmp/kokanee-rca-bench")
console = Console()


def unpack(archive: str, marker: str) -> Path:
    target = SCRATCH / archive.split(".")[0]
    if not (target / marker).exists():
        if not (DATASETS / archive).is_file():
            # The full recordings are not in the repository (tests use trimmed copies in tests/testdata).
            raise SystemExit(
                f"bench: {DATASETS / archive} is missing. The benchmarks read the full datasets from "
                "../shared/datasets/ beside the project (see tests/testdata/README.md for their sources)."
            )
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-xJf", str(DATASETS / archive), "-C", str(target)], check=True)
    return target


def ac_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of cases whose true cause is in the top k (rank is 1-based; None = not ranked)."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def avg5(ranks: Sequence[int | None]) -> float:
    return sum(ac_at(ranks, k) for k in range(1, 6)) / 5


def rank_of(services: Sequence[str], truth: str) -> int | None:
    return services.index(truth) + 1 if truth in services else None


# --- Sock Shop 1 (RCAEval) ---------------------------------------------------------------

SOCKSHOP_PUBLISHED = {  # RCAEval ASE'24 Table 5, service-level Avg@5 (cpu, mem)
    "BARO": (0.99, 0.99),
    "NSigma": (0.98, 0.99),
    "CIRCA": (0.70, 0.80),
    "RCD": (0.63, 0.66),
    "random": (0.36, 0.33),
}


def sockshop() -> dict[str, dict[str, float]]:
    from rca_sockshop import case_folders, load_case

    data = unpack("rcd-sockshop.tar.xz", "sock-shop-data") / "sock-shop-data"
    folders = case_folders(data)
    ranks: dict[str, list[int | None]] = defaultdict(list)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        store = Store(f"chdb://{tmp}/store")
        migrate(store)
        began = time.monotonic()
        with Progress(console=console) as progress:
            task = progress.add_task("sock shop: load + rank", total=len(folders))
            for i, folder in enumerate(folders):
                case = load_case(store, folder, i)
                causes = rank_causes(store, *case.anomalous, baseline=case.normal)
                ranks[case.fault].append(rank_of([c.service for c in causes], case.root_cause))
                progress.advance(task)
        store.close()
    seconds = time.monotonic() - began
    table = Table(title=f"RCAEval Sock Shop 1, {len(folders)} cases, metrics only ({seconds:.0f} s)")
    for column in ("method", "fault", "cases", "AC@1", "AC@3", "Avg@5"):
        table.add_column(column, justify="left" if column in ("method", "fault") else "right")
    out: dict[str, dict[str, float]] = {}
    for fault in sorted(ranks):
        r = ranks[fault]
        out[fault] = {"ac1": ac_at(r, 1), "ac3": ac_at(r, 3), "avg5": avg5(r)}
        table.add_row("kokanee", fault, str(len(r)), f"{ac_at(r, 1):.2f}", f"{ac_at(r, 3):.2f}", f"{avg5(r):.2f}")
    for method, (cpu, mem) in SOCKSHOP_PUBLISHED.items():
        table.add_row(f"{method} (published)", "cpu", "", "", "", f"{cpu:.2f}")
        table.add_row(f"{method} (published)", "mem", "", "", "", f"{mem:.2f}")
    console.print(table)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["sockshop", "nezha", "demo", "autoencoder", "all"])
    args = parser.parse_args()
    if args.dataset in ("sockshop", "all"):
        sockshop()
    if args.dataset in ("nezha", "all"):
        from rca_nezha import nezha

        nezha(console)
    if args.dataset in ("demo", "all"):
        from rca_demo import demo

        demo(console)
    if args.dataset in ("autoencoder", "all"):
        from rca_autoencoder import autoencoder

        autoencoder(console)


if __name__ == "__main__":
    main()

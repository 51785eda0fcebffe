"""Root-cause ranking measured against published results, with kokanee's own `rank_causes`.

    .venv/bin/python bench/rca_eval.py table      # every set, both protocols, side by side
    .venv/bin/python bench/rca_eval.py chaos      # the chaos suite (kokanee.demo.chaos); --split train
    .venv/bin/python bench/rca_eval.py sockshop   # RCAEval Sock Shop 1, metrics only
    .venv/bin/python bench/rca_eval.py nezha      # Nezha Train Ticket 2023-01-29, imported
    .venv/bin/python bench/rca_eval.py demo       # the demo shop's own faults, via POST /api/v1/rca
    .venv/bin/python bench/rca_eval.py autoencoder  # the trace autoencoder on Nezha's faults
    .venv/bin/python bench/rca_eval.py all

`table` runs chaos, nezha and sockshop (both protocols each: "reference", the baseline given;
"window", only start and end) and prints one Markdown table per fault type, train and test halves
apart for the chaos suite; `--save NAME` keeps its results (JSON) and `--against NAME` adds a
saved run's figures beside each, so a change's effect on every set shows in one table.

Archives are read from ../shared/datasets/ (relative to the project root) and unpacked under
/tmp/kokanee-rca-bench/. Hyperparameters are `RcaParams()`'s defaults for every case; a case's
label is read only after its ranking is made, to score it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from kokanee.analysis.rca import rank_causes
from kokanee.store.client import Store
from kokanee.store.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
SCRATCH = Path(os.environ.get("RCA_BENCH_SCRATCH", "/tmp/kokanee-rca-bench"))
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


def sockshop() -> list[dict[str, Any]]:
    """Each case under both protocols: `reference` (its normal.csv given as the baseline) and
    `window` (only the anomalous stretch: kokanee picks the baseline)."""
    from rca_sockshop import case_folders, load_case

    data = unpack("rcd-sockshop.tar.xz", "sock-shop-data") / "sock-shop-data"
    folders = case_folders(data)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        store = Store(f"chdb://{tmp}/store")
        migrate(store)
        began = time.monotonic()
        with Progress(console=console) as progress:
            task = progress.add_task("sock shop: load + rank", total=len(folders))
            for i, folder in enumerate(folders):
                case = load_case(store, folder, i)
                for protocol in ("reference", "window"):
                    baseline = case.normal if protocol == "reference" else None
                    causes = rank_causes(store, *case.anomalous, baseline=baseline)
                    services = [c.service for c in causes]
                    results.append({"set": "sockshop", "kind": case.fault, "split": "all", "protocol": protocol,
                                    "truth": case.root_cause, "rank": rank_of(services, case.root_cause),
                                    "top": services[:3]})  # fmt: skip
                progress.advance(task)
        store.close()
    seconds = time.monotonic() - began
    table = Table(title=f"RCAEval Sock Shop 1, {len(folders)} cases, metrics only ({seconds:.0f} s)")
    for column in ("method", "protocol", "fault", "cases", "AC@1", "AC@3", "Avg@5"):
        table.add_column(column, justify="left" if column in ("method", "protocol", "fault") else "right")
    for protocol in ("reference", "window"):
        ranks: dict[str, list[int | None]] = defaultdict(list)
        for r in results:
            if r["protocol"] == protocol:
                ranks[r["kind"]].append(r["rank"])
        for fault in sorted(ranks):
            rs = ranks[fault]
            table.add_row("kokanee", protocol, fault, str(len(rs)), f"{ac_at(rs, 1):.2f}", f"{ac_at(rs, 3):.2f}",
                          f"{avg5(rs):.2f}")  # fmt: skip
    for method, (cpu, mem) in SOCKSHOP_PUBLISHED.items():
        table.add_row(f"{method} (published)", "reference", "cpu", "", "", "", f"{cpu:.2f}")
        table.add_row(f"{method} (published)", "reference", "mem", "", "", "", f"{mem:.2f}")
    console.print(table)
    return results


# --- the side-by-side table --------------------------------------------------------------

RESULTS = SCRATCH / "results"
SETS = ("chaos", "nezha", "sockshop")


def run_set(name: str) -> list[dict[str, Any]]:
    if name == "chaos":
        from rca_chaos import chaos

        return chaos(console)
    if name == "nezha":
        from rca_nezha import nezha

        return nezha(console)
    return sockshop()


def _cell(ranks: Sequence[int | None]) -> list[str]:
    if not ranks:
        return ["", "", "", ""]
    return [f"{ac_at(ranks, 1):.2f}", f"{ac_at(ranks, 3):.2f}", f"{ac_at(ranks, 5):.2f}", f"{avg5(ranks):.2f}"]


def markdown(results: Sequence[dict[str, Any]], against: Sequence[dict[str, Any]] = ()) -> str:
    """One row per set, fault type and split; AS@1/3/5 and Avg@5 under each protocol (`against`'s
    figures after an arrow when given). Fault-free chaos windows: the share with no cause above
    "just unusual" (in the AS@1 column)."""
    from kokanee.analysis.rca.ranker import JUST_UNUSUAL

    def groups(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
        out: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            kinds = [r["kind"]] if r["kind"] == "no fault" else [r["kind"], "all faults"]
            for kind in kinds:
                out[(r["set"], kind, r["split"], r["protocol"])].append(r)
        return out

    def cells(rows: list[dict[str, Any]]) -> list[str]:
        if rows and rows[0]["kind"] == "no fault":
            quiet = sum(1 for r in rows if float(r.get("top_score") or 0.0) <= JUST_UNUSUAL) / len(rows)
            return [f"{quiet:.2f} quiet", "", "", ""]
        return _cell([r["rank"] for r in rows])

    now, before = groups(results), groups(against)
    keys = sorted({(s, k, sp) for s, k, sp, _ in now}, key=lambda k: (SETS.index(k[0]) if k[0] in SETS else 9,
                  k[1] in ("all faults", "no fault"), k[1] == "no fault", k[1], k[2] != "train", k[2]))  # fmt: skip
    head = "| set | fault type | split | n | " + " | ".join(
        f"{p} {m}" for p in ("reference", "window") for m in ("AS@1", "AS@3", "AS@5", "Avg@5")
    )
    lines = [head + " |", "|" + "---|" * 12]
    for s, kind, split in keys:
        row = [s, kind, split, str(len(now.get((s, kind, split, "reference"), [])))]
        for protocol in ("reference", "window"):
            new = cells(now.get((s, kind, split, protocol), []))
            old = cells(before.get((s, kind, split, protocol), [])) if against else None
            pairs = zip(new, old or new, strict=True)
            row.extend(n if old is None or not o or not n or o == n else f"{o} → {n}" for n, o in pairs)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def load(names: str) -> list[dict[str, Any]]:
    """Saved results, several runs' (comma-separated names or JSON paths) together."""
    out: list[dict[str, Any]] = []
    for name in names.split(","):
        path = Path(name) if name.endswith(".json") else RESULTS / f"{name}.json"
        out.extend(json.loads(path.read_text()))
    return out


def table(save: str | None, against: str | None, sets: Sequence[str], saved: str | None = None) -> None:
    results: list[dict[str, Any]] = load(saved) if saved else []
    for name in [] if saved else sets:
        results.extend(run_set(name))
    report(results, save, against)


def report(results: list[dict[str, Any]], save: str | None, against: str | None) -> None:
    """Keeps `results` under `save` (if given) and prints them, beside the saved run `against`."""
    if save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{save}.json").write_text(json.dumps(results))
    print(markdown(results, load(against) if against else ()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["table", "chaos", "sockshop", "nezha", "demo", "autoencoder", "all"])
    parser.add_argument("--save", help="table: keep this run's results under this name")
    parser.add_argument("--against", help="table: show a saved run's figures beside each (old → new)")
    parser.add_argument("--sets", default=",".join(SETS), help="table: which sets (default: all)")
    parser.add_argument("--split", choices=["train", "test"], help="chaos: rank that half only")
    parser.add_argument(
        "--protocol",
        choices=["reference", "window"],
        help="chaos, nezha: that protocol only (baseline picking moves only window)",
    )
    parser.add_argument(
        "--load", help="table: print saved results (names or .json paths, comma-separated), run nothing"
    )
    args = parser.parse_args()
    if args.dataset == "table":
        table(args.save, args.against, [s for s in args.sets.split(",") if s], args.load)
        return
    protocols = (args.protocol,) if args.protocol else ("reference", "window")
    if args.dataset == "chaos":
        from rca_chaos import chaos

        report(chaos(console, args.split, protocols), args.save, args.against)
    if args.dataset in ("sockshop", "all"):
        sockshop()
    if args.dataset in ("nezha", "all"):
        from rca_nezha import nezha

        results = nezha(console, protocols)
        if args.dataset == "nezha":
            report(results, args.save, args.against)
    if args.dataset in ("demo", "all"):
        from rca_demo import demo

        demo(console)
    if args.dataset in ("autoencoder", "all"):
        from rca_autoencoder import autoencoder

        autoencoder(console)


if __name__ == "__main__":
    main()

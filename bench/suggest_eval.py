"""The model of the team's decisions on real data: the X Education lead data set (9,240 real
leads, `Converted` the outcome; ../shared/data/README.md), read through Triage's own import
map (bench/x-education.map.toml, which leaves out the columns written after a rep worked
the lead) and evaluated by `triage server suggest evaluate`, the real command.

Prints the command's JSON, then its figures beside the targets (accuracy >= 0.80, ROC
AUC of accept >= 0.85), the reference figures of the data set's README (logistic
regression on the pre-contact columns: 0.807 / 0.859) and the majority class, a baseline
the evaluation measures in the same run on the same held-out decisions.

The data set is never copied into the repository: without the file this says so and
exits 0. Exit 1 when a target is missed.

Usage: python bench/suggest_eval.py [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._util import load_average  # noqa: E402
from tests.support.cli import run_cli  # noqa: E402

# ../shared/data beside the checkout (or beside the directory of worktrees that holds it)
_WHERE = [
    up / "shared" / "data" / "x-education-leads.csv" for up in (ROOT.parent, ROOT.parent.parent)
]
DATA = next((p for p in _WHERE if p.exists()), _WHERE[0])
MAP = ROOT / "bench" / "x-education.map.toml"
TARGETS = {"accuracy": 0.80, "roc_auc_accept": 0.85}
REFERENCE = {"accuracy": 0.807, "roc_auc_accept": 0.859}  # the README's logistic regression


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DATA, help=f"the data set (default {DATA})")
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"{args.csv}: not here (the data set is never part of the repository); "
              "nothing to evaluate")  # fmt: skip
        return 0
    start = time.perf_counter()
    ran = run_cli("server", "suggest", "evaluate", "--csv", str(args.csv), "--map", str(MAP))
    took = time.perf_counter() - start
    if ran.returncode != 0:
        print(ran.stderr, file=sys.stderr)
        return 1
    figures = json.loads(ran.stdout)
    print(json.dumps(figures, indent=2))
    print(f"\nX Education, {figures['decisions']} decisions, split {figures['split']['method']} "
          f"({figures['split']['train']} / {figures['split']['test']}), {took:.1f} s; "
          f"{load_average()}")  # fmt: skip
    ok = True
    majority = figures["majority_baseline"]["accuracy"]
    for key, target in TARGETS.items():
        value = figures[key]
        met = value is not None and value >= target
        ok &= met
        base = f"majority class {majority:.3f}" if key == "accuracy" else "majority class 0.500"
        print(f"  {key:<16} {value:.3f}   target >= {target:.2f} {'ok' if met else 'MISSED':<7}"
              f"reference {REFERENCE[key]:.3f}   baseline ({base})")  # fmt: skip
    print(f"  {'macro_f1':<16} {figures['macro_f1']:.3f}")
    print(f"  {'brier_accept':<16} {figures['brier_accept']:.3f}")
    for warning in figures["warnings"]:
        print(f"  warning: {warning}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

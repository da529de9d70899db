"""What saving each student's proxy run after every epoch (so a killed search resumes it) costs.

Evaluates ``--students`` students drawn uniformly from the project's search space exactly as the
search does (``evaluate_candidate`` with the project's ``search`` parameters and a checkpoint
path), timing every ``Checkpoint.save`` against the student's whole evaluation (build, profile,
proxy training). Record ``docs/figures/student_checkpoint_cost.json``: per student the seconds,
the saves' seconds and the file's size, and the median share of an evaluation spent saving.

    python benchmarks/student_checkpoint_cost.py --project /tmp/proj --students 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from common import head_commit, machine
from proxy_objective import load_project

from trade_pipeline.search.objective import Candidate, evaluate_candidate
from trade_pipeline.search.session import objective_context
from trade_pipeline.training.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[1]


def timed_saves() -> list[float]:
    """Makes every ``Checkpoint.save`` append its seconds to the returned list."""
    saves: list[float] = []
    real_save = Checkpoint.save

    def save(self: Checkpoint, *args, **kwargs) -> None:
        start = time.perf_counter()
        real_save(self, *args, **kwargs)
        saves.append(time.perf_counter() - start)

    Checkpoint.save = save
    return saves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a project where data,teacher ran")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    inputs = load_project(args.project)
    context = objective_context(inputs.split, inputs.teacher_profile, inputs.teacher_logits, inputs.search)
    saves = timed_saves()
    rng = np.random.default_rng(0)
    students = []
    with tempfile.TemporaryDirectory() as folder:
        for trial_id in range(args.students):
            path = Path(folder) / f"trial-{trial_id}.safetensors"
            candidate = Candidate(trial_id=trial_id, iteration=0, point=tuple(rng.random(context.space.dimension)),
                                  trust_region=None, checkpoint=str(path))
            before = len(saves)
            row = evaluate_candidate(candidate, inputs.search.device, context)
            if row["status"] != "ok":
                continue
            students.append({"spec_hash": row["spec_hash"], "params": row["params"], "seconds": row["seconds"],
                             "saves": len(saves) - before, "save_seconds": sum(saves[before:]),
                             "checkpoint_bytes": path.stat().st_size})
            print(f"student {trial_id}: {row['seconds']:.2f} s, saves {students[-1]['save_seconds']:.3f} s", flush=True)
    share = float(np.median([s["save_seconds"] / s["seconds"] for s in students]))
    record = {"students": students, "proxy_epochs": inputs.search.proxy.epochs, "median_save_share": share,
              "median_save_seconds": float(np.median([s["save_seconds"] for s in students])),
              "median_checkpoint_bytes": float(np.median([s["checkpoint_bytes"] for s in students])),
              "commit": head_commit(), "machine": machine()}
    (args.figures / "student_checkpoint_cost.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"median share of an evaluation spent saving: {share:.2%} ({len(students)} students)")


if __name__ == "__main__":
    main()

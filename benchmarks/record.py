"""Run a benchmark and keep what it printed as a record (every published figure has one).

Runs the command after ``--`` once, shows its output as it comes, and writes
``docs/figures/<NAME>.json``: the command, the commit (with ``+changes`` when the working tree
differs from it), the machine, the wall time, every ``key=value`` the benchmark printed (the
last value of each key; numbers as numbers) and its output lines. A failed command writes
nothing and passes its exit status on.

    python benchmarks/record.py kd_step_cost -- python benchmarks/kd_step_cost.py --threads 2
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

from common import ROOT, head_commit, machine

PAIR = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)=(\S+)")


def value(text: str) -> float | int | str:
    text = text.rstrip(",;")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def commit() -> str:
    head = head_commit()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    return head + ("+changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="docs/figures/<NAME>.json")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the benchmark's command line")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the benchmark's command after --")
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    if process.wait():
        sys.exit(process.returncode)
    printed = {key: value(text) for line in lines for key, text in PAIR.findall(line)}
    record = {"command": " ".join(command), "commit": commit(), "machine": machine(),
              "wall_seconds": round(time.perf_counter() - start, 1), "printed": printed,
              "output": [line for line in lines if line.strip() and "\r" not in line][-60:]}
    path = ROOT / "docs" / "figures" / f"{args.name}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"record: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

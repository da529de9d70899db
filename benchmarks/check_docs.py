"""Every number in a docs table that cites a record must be in that record.

A table "cites" the record files (``docs/figures/<name>.<csv|json|md>``, or ``figures/<name>...``
relative to docs/) named within ``WINDOW`` lines before or after it. Each number in the table's
body must then appear in one of them: as written, or as a record value that rounds to it at the
precision the docs print. A record named without its extension stands for all its files.
Tables that cite nothing are listed apart, as unchecked.

    python benchmarks/check_docs.py            # README.md and docs/*.md; exit 1 on a missing number
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 6  # lines around a table searched for the records it cites
RECORD = re.compile(r"(?:docs/)?figures/([\w.=\-]+?)(?:\.(csv|json|md|png))?(?=[`)\s,;:]|\.[\s{*]|\.$|$)")
NUMBER = re.compile(r"(?<![\w.])[-−+]?\d[\d,]*(?:\.\d+)?(?![\w])")
# text in a table that names or describes rather than measures: code, links, names with digits,
# counts of what was run ("4 models x 2 modes x 10 epochs") and domains ("[-5, 10]^20")
NAMING = re.compile(r"`[^`]*`|\[[^\]]*\]\([^)]*\)|\b[A-Za-z_]+\d+\w*|\b\d+\s+(?:models?|modes?|epochs?|steps?|"
                    r"candidates|inits?|seeds?|teachers?|trials?|evaluations)\b|\bx\s*\d+|\[[-\d., ]+\]\^\d+")


@dataclass
class Table:
    path: Path
    line: int  # 1-based line of the header
    rows: list[str]
    cited: list[Path] = field(default_factory=list)


def tables(path: Path) -> list[Table]:
    """The markdown tables of ``path`` with the records cited around them."""
    lines = path.read_text().splitlines()
    found, start = [], None
    for index, line in enumerate(lines + [""]):
        if line.lstrip().startswith("|"):
            start = index if start is None else start
            continue
        if start is not None and index - start >= 3:
            around = lines[max(0, start - WINDOW):start] + lines[index:index + WINDOW]
            found.append(Table(path, start + 1, lines[start + 2:index], cited_records(around)))
        start = None
    return found


def cited_records(lines: list[str]) -> list[Path]:
    figures = ROOT / "docs" / "figures"
    records = []
    for match in RECORD.finditer("\n".join(lines)):
        name, extension = match.groups()
        if extension and extension != "png":  # a figure stands for the record files of its name
            records.append(figures / f"{name}.{extension}")
        else:
            records += sorted(p for p in figures.glob(f"{name}.*") if p.suffix in (".csv", ".json", ".md"))
    return [record for record in dict.fromkeys(records) if record.exists()]


def numbers(text: str) -> list[str]:
    return [m.group().replace("−", "-").replace(",", "") for m in NUMBER.finditer(NAMING.sub(" ", text))]


def found_in(number: str, record_text: str, record_values: list[float]) -> bool:
    if number in record_text:
        return True
    decimals = len(number.split(".")[1]) if "." in number else 0
    value = float(number)
    tolerance = 0.5 * 10 ** -decimals + 1e-12
    # a percentage may be stored as a fraction
    return any(abs(candidate - value) <= tolerance or abs(100 * candidate - value) <= tolerance
               for candidate in record_values)


def check(paths: list[Path]) -> tuple[list[str], list[str]]:
    """(missing numbers, uncited tables) over the markdown files ``paths``."""
    missing, unchecked = [], []
    for path in paths:
        for table in tables(path):
            body = "\n".join(table.rows)
            if not numbers(body):
                continue
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{table.line}"
            if not table.cited:
                unchecked.append(where)
                continue
            # a comma separates a CSV's fields but groups thousands elsewhere ("1,234")
            record_text = "\n".join(record.read_text().replace(",", " " if record.suffix == ".csv" else "")
                                    for record in table.cited)
            record_values = [float(n) for n in numbers(record_text)]
            lost = [n for n in numbers(body) if not found_in(n, record_text, record_values)]
            if lost:
                names = ", ".join(str(r.relative_to(ROOT)) for r in table.cited)
                missing.append(f"{where}: {', '.join(dict.fromkeys(lost))} not in {names}")
    return missing, unchecked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="default: README.md and docs/*.md")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.paths] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    paths = [p for p in paths if p.name != "parameters.md"]  # generated from the code, and tested against it
    missing, unchecked = check(paths)
    for line in unchecked:
        print(f"unchecked (cites no record): {line}")
    for line in missing:
        print(f"MISSING: {line}")
    print(f"{len(missing)} table(s) with numbers missing from their records, {len(unchecked)} table(s) citing none")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()

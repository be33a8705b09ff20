"""The README's benchmark table, written from a bench report (never by hand).

    python -m fraudstream.cli.bench.readme [--report REPORT.json] [--readme README.md]

replaces what stands between the two marker comments in the README with a table of every
headline figure of the report: value, baseline of the same run, ratio and target.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

START = "<!-- benchmark-table:start (python -m fraudstream.cli.bench.readme) -->"
END = "<!-- benchmark-table:end -->"


TIMES = "\N{MULTIPLICATION SIGN}"


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:,.1f}{TIMES}"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}"


def _target(entry: dict[str, Any]) -> str:
    if "target" not in entry:
        return ""
    sign = "≥" if entry["better"] == "higher" else "≤"
    outcome = "met" if entry["target_met"] else "**missed**"
    return f"{sign} {_number(entry['target'], entry['unit'])} {outcome}"


def table(report: dict[str, Any]) -> str:
    """Markdown: the report's provenance, then one row per headline figure."""
    machine = report["machine"]
    lines = [
        f"`{report['command']}` at {report['generated_time']}, {machine['cpus_usable']} cores "
        f"({machine['cpu_model']}), load average {machine['load_average_before']} before and "
        f"{machine.get('load_average_after')} after (the cores are shared with other work).",
        "",
        "| figure | what | value | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for key, entry in report["figures"].items():
        baseline = ""
        if "baseline" in entry:
            baseline = (
                f"{entry.get('baseline_what', '')}: {_number(entry['baseline'], entry['unit'])}"
            )
        ratio = f"{entry['ratio']:,.1f}{TIMES}" if "ratio" in entry else ""
        cells = [f"`{key}`", entry["what"], _number(entry["value"], entry["unit"])]
        cells += [baseline, ratio, _target(entry)]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def update_readme(readme: Path, report: dict[str, Any]) -> None:
    """Replace the text between the markers of `readme` with the table of `report`."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    _old, after = rest.split(END, 1)
    readme.write_text(f"{before}{START}\n{table(report)}\n{END}{after}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("reports/benchmark_report.json"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    update_readme(args.readme, json.loads(args.report.read_text()))
    print(f"{args.readme}: benchmark table written from {args.report}")


if __name__ == "__main__":
    main()

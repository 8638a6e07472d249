"""Check that an eval run directory holds a well-formed report: ``python -m eval.check_report DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eval.report import PLOTS

RUN_KEYS = {
    "strategy",
    "threshold",
    "precision",
    "recall",
    "f1",
    "escalation_rate_spans",
    "llm_calls",
    "latency_p50_ms",
    "latency_p95_ms",
    "per_label",
}


def problems(directory: Path) -> list[str]:
    found: list[str] = []
    try:
        report = json.loads((directory / "report.json").read_text())
    except (OSError, ValueError) as exc:
        return [f"report.json: {exc}"]
    if not report.get("runs"):
        found.append("report.json has no runs")
    for run in report.get("runs", []):
        missing = RUN_KEYS - set(run)
        if missing:
            found.append(f"run {run.get('strategy')} lacks {sorted(missing)}")
        elif not 0.0 <= run["f1"] <= 1.0:
            found.append(f"run {run['strategy']} has F1 {run['f1']}")
    if not report.get("router_quality"):
        found.append("report.json has no router_quality rows")
    md = (directory / "report.md").read_text() if (directory / "report.md").is_file() else ""
    if "| run |" not in md:
        found.append("report.md lacks the summary table")
    for name in PLOTS:
        path = directory / name
        if not path.is_file() or path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            found.append(f"{name} is missing or not a PNG")
    return found


if __name__ == "__main__":
    target = Path(sys.argv[1])
    issues = problems(target)
    for p in issues:
        print(f"{target}: {p}", file=sys.stderr)
    print(f"{target}: report {'BROKEN' if issues else 'ok'}")
    sys.exit(1 if issues else 0)

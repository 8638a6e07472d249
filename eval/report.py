"""Reports for an eval run (Markdown, JSON, PNG plots) and the ``compare`` regression gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLOTS = ("f1_vs_escalation.png", "f1_vs_cost.png", "reliability.png")


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _name(run: dict[str, Any]) -> str:
    return str(run["strategy"]) + (f"@{run['threshold']}" if run["threshold"] is not None else "")


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Eval run: {report['dataset']} ({report['documents']} documents)",
        "",
        f"Model `{report['model']}`, LLM `{report['llm_model']}` (prompt {report['prompt_version']}), "
        f"schema `{report['schema']}`, granularity `{report['granularity']}`, seed {report['seed']}"
        + (f", held-out label **{report['holdout_label']}**" if report["holdout_label"] else "")
        + f". Skipped input lines: {report['skipped_lines']}.",
        "",
        "| run | P | R | F1 | macro F1 | escalated spans | docs to LLM | LLM calls | tokens / 1k docs "
        "| cost / 1k docs | p50 ms | p95 ms | docs/s | degraded |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {_name(r)} | {_fmt(r['precision'])} | {_fmt(r['recall'])} | **{_fmt(r['f1'])}** "
            f"| {_fmt(r['macro_f1'])} "
            f"| {r['escalation_rate_spans']:.1%} | {r['llm_doc_rate']:.1%} | {r['llm_calls']} "
            f"| {r['tokens_per_1k_docs']:.0f} | {_fmt(r['cost_per_1k_docs'])} | {r['latency_p50_ms']:.1f} "
            f"| {r['latency_p95_ms']:.1f} | {r['docs_per_s']:.1f} | {r['degraded_docs']} |"
        )
    labels = sorted({lab for r in report["runs"] for lab in r["per_label"]})
    lines += ["", "## F1 per label", "", "| run | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for r in report["runs"]:
        cells = [_fmt(r["per_label"].get(lab, {}).get("f1")) for lab in labels]
        lines.append(f"| {_name(r)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Router quality (local model only; independent of the LLM)",
        "",
        "Escalate local spans whose calibrated confidence is below the threshold. Router precision: share of the",
        "escalated spans the local model had wrong. Error recall: share of all local errors that were escalated.",
        "Oracle F1: F1 if every escalated span (or escalated sentence) came back right.",
        "",
        "| threshold | escalated spans | escalated sentences | router precision | error recall | oracle F1 span "
        "| oracle F1 sentence |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in report["router_quality"]:
        lines.append(
            f"| {q['threshold']:.2f} | {q['escalation_rate_spans']:.1%} | {q['escalation_rate_sentences']:.1%} "
            f"| {q['router_precision']:.3f} | {q['error_recall']:.3f} | {q['oracle_f1_span']:.4f} "
            f"| {q['oracle_f1_sentence']:.4f} |"
        )
    rel = report["reliability"]
    lines += ["", f"Local confidence ECE: {rel['ece']:.4f}.", ""]
    if report.get("linking"):
        lk = report["linking"]
        lines += [
            "## Linking (the KB in the configured database)",
            "",
            "| known gold mentions | candidate recall | recall@1 | recall@5 | recall@30 | gold-span accuracy "
            "| end-to-end P | R | F1 |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {lk['known']} | {lk['candidate_recall']:.3f} | {lk['recall@1']:.3f} | {lk['recall@5']:.3f} "
            f"| {lk['recall@30']:.3f} | {lk['gold_span_accuracy']:.3f} | {lk['e2e_precision']:.3f} "
            f"| {lk['e2e_recall']:.3f} | **{lk['e2e_f1']:.3f}** |",
            "",
        ]
    lines += [f"![{p}]({p})" for p in PLOTS]
    return "\n".join(lines) + "\n"


def plots(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for r in report["runs"]:
        by_strategy.setdefault(r["strategy"], []).append(r)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, runs in by_strategy.items():
        runs = sorted(runs, key=lambda r: r["escalation_rate_spans"])
        ax.plot([r["escalation_rate_spans"] for r in runs], [r["f1"] for r in runs], marker="o", label=name)
    rq = report["router_quality"]
    ax.plot(
        [q["escalation_rate_spans"] for q in rq],
        [q["oracle_f1_span"] for q in rq],
        ls="--",
        c="grey",
        label="oracle (escalated spans fixed)",
    )
    ax.set_xlabel("share of local spans escalated to the LLM")
    ax.set_ylabel("entity F1")
    ax.set_title(f"F1 vs escalation: {report['dataset']}")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / PLOTS[0], dpi=110)
    plt.close(fig)

    known_cost = all(r["cost_per_1k_docs"] is not None for r in report["runs"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, runs in by_strategy.items():
        xs = [r["cost_per_1k_docs"] if known_cost else r["tokens_per_1k_docs"] for r in runs]
        ax.scatter(xs, [r["f1"] for r in runs], label=name)
    ax.set_xlabel("USD per 1k documents" if known_cost else "LLM tokens per 1k documents (price unknown)")
    ax.set_ylabel("entity F1")
    ax.set_title("F1 vs cost")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / PLOTS[1], dpi=110)
    plt.close(fig)

    bins = report["reliability"]["bins"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", label="perfect calibration")
    ax.bar(
        [(b["lo"] + b["hi"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=0.09, alpha=0.7, label="accuracy"
    )
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", c="C1", label="mean confidence")
    ax.set_xlabel("local entity confidence")
    ax.set_ylabel("share exactly right")
    ax.set_title(f"Reliability (ECE {report['reliability']['ece']:.3f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / PLOTS[2], dpi=110)
    plt.close(fig)


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    plots(report, out)


def load(path: Path) -> dict[str, Any]:
    path = Path(path)
    data: dict[str, Any] = json.loads((path / "report.json" if path.is_dir() else path).read_text())
    return data


def compare(a: dict[str, Any], b: dict[str, Any], max_f1_drop: float) -> tuple[list[str], bool]:
    """Rows diffing B against A per run, and whether B stays within the allowed F1 drop everywhere."""
    old = {_name(r): r for r in a["runs"]}
    rows = ["| run | F1 A | F1 B | change | escalation A | escalation B |", "|---|---|---|---|---|---|"]
    ok = True
    for r in b["runs"]:
        prev = old.get(_name(r))
        if prev is None:
            continue
        delta = r["f1"] - prev["f1"]
        flag = "" if delta >= -max_f1_drop else " **FAIL**"
        ok = ok and delta >= -max_f1_drop
        rows.append(
            f"| {_name(r)} | {prev['f1']:.4f} | {r['f1']:.4f} | {delta:+.4f}{flag} "
            f"| {prev['escalation_rate_spans']:.1%} | {r['escalation_rate_spans']:.1%} |"
        )
    if len(rows) == 2:
        raise ValueError("the two runs share no (strategy, threshold); nothing to compare")
    return rows, ok

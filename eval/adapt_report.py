"""``eval/reports/adapt.md`` from ``adapt.json``: every table beside its anchors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.adapt_data import CROSSNER_BERT, NUNER_ZERO, WNUT_BEST_2017

DOMAINS = ("politics", "science", "music")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _crossner(report: dict[str, Any]) -> list[str]:
    ours, spacy = report.get("crossner", {}), report.get("spacy", {})
    lines = [
        "## CrossNER: adapt on train (dev for the epoch and calibration), test F1 (micro, exact span and type)",
        "",
        "| | " + " | ".join(DOMAINS) + " |",
        "|---|" + "---|" * len(DOMAINS),
        "| **hybrid-ner adapt** (served int8 model) | "
        + " | ".join(f"**{_pct(ours[d]['test']['f1'])}**" if d in ours else "-" for d in DOMAINS)
        + " |",
        "| test ECE (served, calibrated on dev) | "
        + " | ".join(f"{ours[d]['test']['ece']:.3f}" if d in ours else "-" for d in DOMAINS)
        + " |",
        "| spaCy 3.8 own training, default efficiency config, same splits (this run) | "
        + " | ".join(_pct(spacy[d]["test"]["f1"]) if d in spacy else "-" for d in DOMAINS)
        + " |",
        "| NuNER-Zero span, zero-shot (published) | " + " | ".join(f"{NUNER_ZERO[d]:.1f}" for d in DOMAINS) + " |",
    ]
    for name, scores in CROSSNER_BERT.items():
        lines.append(
            f"| CrossNER paper, BERT-base {name} (published; quoted, not re-checked offline) | "
            + " | ".join(f"{scores[d]:.1f}" for d in DOMAINS)
            + " |"
        )
    lines += [
        "| adapt time on this machine (s) | "
        + " | ".join(
            f"{ours[d]['adapt_seconds']:.0f} ({ours[d]['train_sentences']} sentences)" if d in ours else "-"
            for d in DOMAINS
        )
        + " |",
        "",
    ]
    return lines


def _wnut(report: dict[str, Any]) -> list[str]:
    w = report.get("wnut")
    if not w:
        return []
    c, a = w["calibrate"], w["adapt"]
    return [
        "## WNUT-17 (tweets and web text)",
        "",
        f"- `calibrate` of the default model on half of dev ({c['sample_sentences']} sentences, person → PER, "
        f"location → LOC, corporation and group → ORG): test ECE of its PER/LOC/ORG entities "
        f"**{c['test_before']['ece']:.3f} → {c['test_after']['ece']:.3f}** "
        f"(F1 {_pct(c['test_after']['f1'])}, unchanged by a confidence map).",
        f"- `adapt` on all of dev ({a['train_sentences']} sentences, six types, {a['calibration']} calibration, "
        f"{a['adapt_seconds']:.0f} s): test F1 **{_pct(a['test']['f1'])}**, test ECE {a['test']['ece']:.3f} "
        f"(shared task best {WNUT_BEST_2017}).",
        "",
    ]


def _speed(report: dict[str, Any]) -> list[str]:
    s = report.get("speed")
    if not s:
        return []
    w = s["words_per_s"]
    return [
        "## Speed of an adapted model (one thread, batches of 64 texts of 25 words, alternating runs)",
        "",
        f"Median of {len(s['runs']['default'])} runs: default model {w['default']:,} words/s, adapted (politics) "
        f"{w['adapted']:,} words/s; median ratio of the pairs **{s['ratio']:.3f}**.",
        "",
    ]


def _ablation(report: dict[str, Any]) -> list[str]:
    """Every row from the ablation's own runs, its default included, so that rows differ by one choice only."""
    section = report.get("ablation", {})
    variants = section.get("variants", {})
    if not variants:
        return []
    lines = [
        f"## What each choice adds (CrossNER {section.get('domain', 'politics')}; test F1 through the served "
        "runtime; each row one `adapt` run)",
        "",
        "| run | test F1 | test ECE | dev F1 | seconds |",
        "|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        lines.append(
            f"| {name} | {_pct(v['test_f1'])} | {v['test_ece']:.3f} | {_pct(v['dev_f1'])} | {v['adapt_seconds']:.0f} |"
        )
    if note := section.get("note"):
        lines += ["", note]
    return [*lines, ""]


def _curve(report: dict[str, Any]) -> list[str]:
    c = report.get("curve")
    if not c:
        return []
    sizes = c["sizes"]
    lines = [
        f"## Learning curve: CrossNER {c['domain']}, sentences from the train+dev pool ({c['pool']}), "
        f"mean test F1 of {len(c['seeds'])} seeds",
        "",
        "| chosen by | " + " | ".join(str(n) for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for name, row in c["mean_f1"].items():
        lines.append(f"| {name} | " + " | ".join(_pct(f) for f in row) + " |")
    return [*lines, "", f"![learning curve]({c['plot']})", ""]


def write_markdown(report: dict[str, Any], out_dir: Path) -> None:
    lines = [
        "# Adapting the local model to a domain",
        "",
        "Written by `python -m eval.adapt_bench` (`make adapt-bench`).",
        "",
    ]
    lines += _crossner(report) + _wnut(report) + _speed(report) + _ablation(report) + _curve(report)
    (out_dir / "adapt.md").write_text("\n".join(lines) + "\n")

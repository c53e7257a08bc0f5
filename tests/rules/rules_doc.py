"""Render docs/rules.md (the list of built-in rules) from the rule files.

    python tests/rules/rules_doc.py > docs/rules.md

`test_rules_doc.py` fails when the committed page differs from what this renders.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rule_pack import PACK, PLATFORMS, RuleFile, pack_files

from guetteur.detect import attack

HEADER = """# Built-in rules

Generated from `rules/` by `python tests/rules/rules_doc.py > docs/rules.md` (a test checks
that this page is up to date). How the pack is organised and tested: `docs/rule-writing.md`,
section "The built-in pack".

Levels follow Sigma: `informational` < `low` < `medium` < `high` < `critical`. "Kind" says how
a rule decides: one event (`single event`), a Sigma correlation over a time window
(`event_count`, `value_count`, `value_sum`, `temporal_ordered`) of base rules that are not
alerts by themselves, or a first-seen rule (`first seen of` fields in a history window, after
a learning period: docs/statistics.md). The triage note is the rule's `description`: what it means and what
to check first.
"""


def _attack(tags: list[str]) -> str:
    parts = []
    for tag in tags:
        ref = attack.lookup(tag)
        if ref.kind == "technique":
            parts.append(f"{ref.id} {ref.name}")
    return "; ".join(parts)


def _kind(doc: dict[str, Any]) -> str:
    if doc.get("type") == "first_seen":
        spec = doc["first_seen"]
        fields = ", ".join(f"`{f}`" for f in spec["fields"])
        return f"first seen of {fields} in {spec['history']} (learning {spec.get('learning', '0s')})"
    if "correlation" in doc:
        corr = doc["correlation"]
        cond = corr.get("condition") or {}
        field = f" of `{cond['field']}`" if "field" in cond else ""
        op = next((f"{k} {v}" for k, v in cond.items() if k != "field"), "")
        group = ", ".join(f"`{g}`" for g in corr.get("group-by", []))
        text = f"{corr['type']}{field} {op} in {corr['timespan']}".replace("  ", " ")
        return f"{text}, per {group}" if group else text
    return "single event"


def _logsource(rule_file: RuleFile) -> str:
    sources = []
    for doc in rule_file.documents:
        ls = doc.get("logsource")
        if ls:
            text = "/".join(str(ls[k]) for k in ("product", "category", "service") if ls.get(k))
            if text not in sources:
                sources.append(text)
        where = (doc.get("first_seen") or {}).get("where")
        if where:
            sources.append(" and ".join(f"{k}: {v}" for k, v in where.items()))
    return ", ".join(f"`{s}`" for s in sources)


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def render(files: list[RuleFile] | None = None) -> str:
    files = files if files is not None else pack_files()
    out = [HEADER]
    out.append(f"{len(files)} rule files (one alerting rule each).")
    for platform in PLATFORMS:
        group = [f for f in files if f.path.parent.name == platform]
        if not group:
            continue
        out.append(f"\n## {platform.capitalize()}\n")
        out.append("| rule | level | ATT&CK | kind |")
        out.append("|---|---|---|---|")
        for f in group:
            main = f.main
            out.append(f"| [{main['title']}](#{f.path.stem.replace('_', '-')}) | {main['level']} "
                       f"| {_attack(main.get('tags', []))} | {_kind(main)} |")
        for f in group:
            main = f.main
            out.append(f"\n### {f.path.stem.replace('_', '-')}\n")
            out.append(f"**{main['title']}** — `{f.path.relative_to(PACK.parent)}`\n")
            out.append(f"- id: `{main['id']}`")
            out.append(f"- level: {main['level']}; status: {main['status']}")
            out.append(f"- ATT&CK: {_attack(main.get('tags', []))} "
                       f"({', '.join(t for t in main.get('tags', []) if attack.lookup(t).kind == 'tactic')})")
            out.append(f"- log source: {_logsource(f)}; kind: {_kind(main)}")
            bases = [d for d in f.documents[:-1] if "correlation" not in d]
            if bases:
                out.append("- base rules: " + "; ".join(f"`{d['name']}` ({_clean(d['title'])})" for d in bases))
            out.append(f"- false positives: {'; '.join(_clean(x) for x in main.get('falsepositives', []))}")
            out.append(f"\n{_clean(main['description'])}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

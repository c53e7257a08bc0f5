#!/usr/bin/env python3
"""Build the compact MITRE ATT&CK Enterprise catalogue bundled in `guetteur/detect/data/`.

Input: the ATT&CK folder of the shared test data (`../shared/data/attack/`, see its README):
  - `enterprise-attack-compact.json`             tactics and current techniques
  - `enterprise-attack-revoked-deprecated.json`  revoked/deprecated techniques and their replacements
  - `enterprise-attack-*.stix20.json.gz`         the STIX bundle, for groups, software, campaigns,
                                                 mitigations and data sources (optional)
Output: `src/guetteur/detect/data/attack-enterprise.json.gz` (deterministic bytes: sorted keys,
gzip mtime 0) and `LICENSE-ATTACK.txt` next to it (MITRE's notice must travel with every copy).

Usage: python scripts/build_attack_catalogue.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / ".." / "shared" / "data" / "attack"
DEFAULT_OUT = ROOT / "src" / "guetteur" / "detect" / "data"
OUTPUT_NAME = "attack-enterprise.json.gz"

# STIX object type -> (catalogue section, ATT&CK id prefix)
STIX_SECTIONS = {
    "intrusion-set": ("groups", "G"),
    "malware": ("software", "S"),
    "tool": ("software", "S"),
    "campaign": ("campaigns", "C"),
    "course-of-action": ("mitigations", "M"),
    "x-mitre-data-source": ("data_sources", "DS"),
}


def attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", ()):
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def follow(replacements: dict[str, str | None], start: str) -> str | None:
    """The final replacement of a revoked id (a replacement may itself have been revoked later)."""
    seen = {start}
    current = replacements.get(start)
    while current is not None and current in replacements and current not in seen:
        seen.add(current)
        current = replacements[current]
    return current


def load_stix_sections(bundle_path: Path) -> dict[str, Any]:
    with gzip.open(bundle_path, "rt", encoding="utf-8") as handle:
        objects = json.load(handle)["objects"]
    by_stix_id = {obj["id"]: obj for obj in objects}
    revoked_by: dict[str, str] = {}
    for obj in objects:
        if obj["type"] == "relationship" and obj.get("relationship_type") == "revoked-by":
            source, target = by_stix_id.get(obj["source_ref"]), by_stix_id.get(obj["target_ref"])
            if source and target:
                sid, tid = attack_id(source), attack_id(target)
                if sid and tid:
                    revoked_by[sid] = tid
    sections: dict[str, Any] = {name: {} for name, _ in STIX_SECTIONS.values()}
    retired: dict[str, dict[str, Any]] = {}
    for obj in objects:
        entry = STIX_SECTIONS.get(obj["type"])
        if entry is None:
            continue
        section, prefix = entry
        ext_id = attack_id(obj)
        # Old mitigations carried technique ids (T1174...); they are not mitigations any more.
        if ext_id is None or not ext_id.startswith(prefix) or not ext_id[len(prefix) :].isdigit():
            continue
        if obj.get("revoked"):
            retired[ext_id] = {"name": obj.get("name", ""), "status": "revoked", "by": revoked_by.get(ext_id)}
        elif obj.get("x_mitre_deprecated"):
            retired[ext_id] = {"name": obj.get("name", ""), "status": "deprecated", "by": None}
        else:
            sections[section][ext_id] = obj.get("name", "")
    sections["retired"] = retired
    return sections


def build(source: Path) -> dict[str, Any]:
    compact = json.loads((source / "enterprise-attack-compact.json").read_text(encoding="utf-8"))
    old = json.loads((source / "enterprise-attack-revoked-deprecated.json").read_text(encoding="utf-8"))
    tactics = sorted(compact["tactics"], key=lambda t: t["order"])
    techniques = {
        t["id"]: {"name": t["name"], "tactics": t["tactics"], "platforms": t.get("platforms", [])}
        for t in compact["techniques"]
    }
    replacements: dict[str, str | None] = {p["id"]: p.get("revoked_by") for p in old["attack_patterns"]}
    retired: dict[str, dict[str, Any]] = {}
    for pattern in old["attack_patterns"]:
        retired[pattern["id"]] = {
            "name": pattern["name"],
            "status": pattern["status"],
            "by": follow(replacements, pattern["id"]) if pattern["status"] == "revoked" else None,
        }
    catalogue: dict[str, Any] = {
        "attack_version": compact["source"]["attack_version"],
        "domain": compact["source"]["domain"],
        "source": {k: compact["source"][k] for k in ("repository", "commit")},
        "license": compact["source"]["license"],
        "tactics": [{"id": t["id"], "shortname": t["shortname"], "name": t["name"]} for t in tactics],
        "techniques": techniques,
        "groups": {},
        "software": {},
        "campaigns": {},
        "mitigations": {},
        "data_sources": {},
    }
    bundles = sorted(source.glob("enterprise-attack-*.stix20.json.gz"))
    if bundles:
        sections = load_stix_sections(bundles[-1])
        for key in ("groups", "software", "campaigns", "mitigations", "data_sources"):
            catalogue[key] = sections[key]
        for ext_id, info in sections["retired"].items():
            retired.setdefault(ext_id, info)
    else:
        print("warning: no STIX bundle found; groups/software/... left empty", file=sys.stderr)
    catalogue["retired"] = retired
    # A replacement must exist in the catalogue, or the mapping would point nowhere.
    for ext_id, info in retired.items():
        target = info["by"]
        if (
            target is not None
            and target not in techniques
            and not any(target in catalogue[s] for s in ("groups", "software", "campaigns", "mitigations"))
        ):
            print(f"warning: {ext_id} revoked by unknown {target}", file=sys.stderr)
    return catalogue


def license_text(source: Path) -> str:
    text = (source / "LICENSE-ATTACK.txt").read_text(encoding="utf-8")
    # The upstream file also names CAPEC, which we do not ship; keep the ATT&CK part only.
    head, _, _ = text.partition("CAPEC\u2122")
    return head.rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    catalogue = build(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(catalogue, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(payload)
    (args.out / OUTPUT_NAME).write_bytes(buffer.getvalue())
    (args.out / "LICENSE-ATTACK.txt").write_text(license_text(args.source), encoding="utf-8")
    print(
        f"ATT&CK {catalogue['attack_version']}: {len(catalogue['tactics'])} tactics, "
        f"{len(catalogue['techniques'])} techniques, {len(catalogue['groups'])} groups, "
        f"{len(catalogue['software'])} software, {len(catalogue['retired'])} revoked/deprecated ids; "
        f"{len(payload)} bytes -> {len(buffer.getvalue())} gzipped"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

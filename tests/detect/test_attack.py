"""The bundled MITRE ATT&CK catalogue: lookups, revoked and unknown ids, tags, coverage."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from guetteur.detect import attack
from guetteur.detect.rules import load_rule_texts

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / ".." / "shared" / "data"
DATA = ROOT / "src" / "guetteur" / "detect" / "data"


def test_catalogue_is_package_data_with_mitre_notice() -> None:
    cat = attack.catalogue()
    assert cat.version == "18.1"
    assert len(cat.tactics) == 14 and cat.tactics[0].shortname == "reconnaissance"
    assert [t.order for t in cat.tactics] == list(range(1, 15))
    assert len(cat.techniques) == 691
    notice = (DATA / "LICENSE-ATTACK.txt").read_text(encoding="utf-8")
    assert "The MITRE Corporation. This work is reproduced and distributed with the permission" in notice
    assert "MITRE" in cat.license


def test_technique_and_subtechnique() -> None:
    ref = attack.lookup("attack.t1110.001")
    assert (ref.kind, ref.id, ref.status, ref.name) == (
        "technique",
        "T1110.001",
        "known",
        "Password Guessing",
    )
    assert ref.tactics == ("credential-access",)
    assert ref.url == "https://attack.mitre.org/techniques/T1110/001"
    tech = attack.catalogue().technique("T1110.001")
    assert tech is not None and tech.parent == "T1110"
    multi = attack.lookup("attack.t1078")  # Valid Accounts: four tactics, in matrix order
    assert multi.tactics == ("initial-access", "persistence", "privilege-escalation", "defense-evasion")


def test_revoked_technique_maps_to_its_replacement() -> None:
    ref = attack.lookup("attack.t1086")
    assert ref.status == "revoked"
    assert (ref.replacement, ref.replacement_name) == ("T1059.001", "PowerShell")
    assert ref.effective_id == "T1059.001"
    assert ref.tactics == ("execution",)  # the replacement's tactics


def test_deprecated_technique_has_no_replacement() -> None:
    deprecated = [
        k for k, v in attack.catalogue().retired.items() if v["status"] == "deprecated" and k.startswith("T")
    ]
    assert deprecated
    ref = attack.lookup(f"attack.{deprecated[0].lower()}")
    assert ref.status == "deprecated" and ref.replacement is None and ref.effective_id == deprecated[0]


@pytest.mark.parametrize(
    ("tag", "kind", "ident"),
    [
        ("attack.stealth", "tactic", "stealth"),  # ATT&CK v19 tactic
        ("attack.defense-impairment", "tactic", "defense-impairment"),
        ("attack.t1685", "technique", "T1685"),  # v19 technique
        ("attack.t1685.003", "technique", "T1685.003"),
        ("attack.g9999", "group", "G9999"),
        ("attack.ta0099", "tactic", "TA0099"),
        ("attack.a0001", "tactic", "a0001"),  # ICS asset ids are not in the Enterprise catalogue
        ("attack.", "tactic", ""),
        ("attack.g0016.001", "other", "G0016.001"),
    ],
)
def test_unknown_tags_are_kept_not_errors(tag: str, kind: str, ident: str) -> None:
    ref = attack.lookup(tag)
    assert (ref.kind, ref.id, ref.status) == (kind, ident, "unknown")
    assert ref.tag == tag and ref.name is None


@pytest.mark.parametrize(
    ("tag", "kind", "ident", "name"),
    [
        ("attack.credential-access", "tactic", "TA0006", "Credential Access"),
        ("attack.credential_access", "tactic", "TA0006", "Credential Access"),  # old Sigma spelling
        ("ATTACK.Defense-Evasion", "tactic", "TA0005", "Defense Evasion"),
        ("TA0006", "tactic", "TA0006", "Credential Access"),
        ("attack.g0016", "group", "G0016", "APT29"),
        ("attack.s0002", "software", "S0002", "Mimikatz"),
        ("attack.m1036", "mitigation", "M1036", "Account Use Policies"),
        ("T1059.001", "technique", "T1059.001", "PowerShell"),
        ("  attack.T1059  ", "technique", "T1059", "Command and Scripting Interpreter"),
    ],
)
def test_known_tags(tag: str, kind: str, ident: str, name: str) -> None:
    ref = attack.lookup(tag)
    assert (ref.kind, ref.id, ref.status, ref.name) == (kind, ident, "known", name)


def test_data_source_campaign_and_revoked_group() -> None:
    assert attack.lookup("attack.ds0005").status == "deprecated"  # data sources retired in v18
    campaigns = attack.catalogue().names["campaigns"]
    first = sorted(campaigns)[0]
    assert attack.lookup(f"attack.{first.lower()}").kind == "campaign"
    revoked_groups = {k: v for k, v in attack.catalogue().retired.items() if k.startswith("G") and v["by"]}
    assert revoked_groups
    gid, info = sorted(revoked_groups.items())[0]
    ref = attack.lookup(f"attack.{gid.lower()}")
    assert ref.status == "revoked" and ref.replacement == info["by"] and ref.replacement_name


@pytest.mark.parametrize(
    "tag", ["", "cve.2021-44228", "car.2016-04-005", "detection.threat-hunting", "\x00", "t" * 10_000]
)
def test_non_attack_text(tag: str) -> None:
    ref = attack.lookup(tag)
    assert ref.status == "unknown"
    assert attack.parse_tags([tag]) == [] or tag.lower().startswith("attack.")


def test_parse_tags_accepts_strings_and_sigma_tags() -> None:
    rules = load_rule_texts(
        [
            (
                "r.yml",
                """
title: t
id: 0f5e7a54-1b1a-4d4e-8f0e-000000000001
logsource: {product: linux}
detection: {sel: {a: b}, condition: sel}
tags: [attack.execution, attack.t1059.004, cve.2021-4034, attack.t1086, attack.stealth]
""",
            )
        ]
    )
    sigma_tags = rules.rules[0].rule.tags
    refs = attack.parse_tags(sigma_tags)
    assert [r.id for r in refs] == ["TA0002", "T1059.004", "T1086", "stealth"]
    assert attack.technique_ids(sigma_tags) == ["T1059.004", "T1059.001"]  # T1086 replaced


def rule(rule_id: str, tags: list[str], enabled: bool = True) -> SimpleNamespace:
    return SimpleNamespace(id=rule_id, tags=tags, enabled=enabled)


def test_coverage_and_matrix() -> None:
    rules = [
        rule("r1", ["attack.t1110.001", "attack.credential-access"]),
        rule("r2", ["attack.t1110.003"]),
        rule("r3", ["attack.t1110"]),
        rule("r4", ["attack.t1086"]),  # revoked -> T1059.001
        rule("r5", ["attack.t1685"]),  # unknown, kept
        rule("r6", ["attack.t1021"], enabled=False),
        rule("r7", ["attack.t1059.001", "attack.t1059.001"]),
    ]
    cover = attack.coverage(rules)
    assert cover == {
        "T1059.001": ["r4", "r7"],
        "T1110": ["r3"],
        "T1110.001": ["r1"],
        "T1110.003": ["r2"],
        "T1685": ["r5"],
    }
    assert "T1021" in attack.coverage(rules, include_disabled=True)
    matrix = attack.coverage_matrix(cover)
    columns = {c.tactic.shortname: c for c in matrix.columns}
    cred = columns["credential-access"]
    assert [(c.technique, c.rules, c.subtechniques_covered) for c in cred.cells] == [
        ("T1110", ("r3", "r1", "r2"), ("T1110.001", "T1110.003"))
    ]
    assert cred.covered == 1 and cred.techniques_total > 10
    assert [c.technique for c in columns["execution"].cells] == ["T1059"]
    assert dict(matrix.unknown) == {"T1685": ("r5",)}
    assert matrix.rules_total == 6
    as_json = json.loads(json.dumps(matrix.to_dict()))
    assert as_json["tactics"][0]["shortname"] == "reconnaissance"


def test_coverage_of_a_ruleset_object() -> None:
    loaded = load_rule_texts(
        [
            (
                "r.yml",
                """
title: t
id: 0f5e7a54-1b1a-4d4e-8f0e-000000000002
logsource: {product: linux}
detection: {sel: {a: b}, condition: sel}
tags: [attack.t1110.001]
""",
            )
        ]
    )
    assert attack.coverage(loaded) == {"T1110.001": ["0f5e7a54-1b1a-4d4e-8f0e-000000000002"]}
    loaded.rules[0].enabled = False
    assert attack.coverage(loaded) == {}


def test_every_attack_tag_of_the_sigmahq_pack_resolves_or_is_unknown() -> None:
    """SigmaHQ HEAD uses ATT&CK v19 tags: only those may be unknown, none may raise."""
    rules_root = SHARED / "sigma"
    if not rules_root.is_dir():
        pytest.skip("shared test data absent")
    unknown: set[str] = set()
    known = 0
    for folder in rules_root.glob("rules*"):
        for path in folder.rglob("*.yml"):
            for tag in re.findall(
                r"^\s+- (attack\.[A-Za-z0-9_.-]+)\s*$", path.read_text(errors="replace"), re.M
            ):
                ref = attack.lookup(tag)
                if ref.status == "unknown":
                    unknown.add(ref.id)
                else:
                    known += 1
    assert known > 9000
    assert {u for u in unknown if not u.startswith("T")} == {"stealth", "defense-impairment"}
    assert all(re.match(r"^T1(68[5-9]|69\d)", u) for u in unknown if u.startswith("T"))


def test_generator_reproduces_the_bundled_catalogue(tmp_path: Path) -> None:
    source = SHARED / "attack"
    if not (source / "enterprise-attack-compact.json").is_file():
        pytest.skip("shared test data absent")
    spec = importlib.util.spec_from_file_location(
        "build_attack_catalogue", ROOT / "scripts" / "build_attack_catalogue.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--source", str(source), "--out", str(tmp_path)]) == 0
    built = json.loads(gzip.decompress((tmp_path / "attack-enterprise.json.gz").read_bytes()))
    bundled = json.loads(gzip.decompress((DATA / "attack-enterprise.json.gz").read_bytes()))
    assert built == bundled
    assert (tmp_path / "attack-enterprise.json.gz").read_bytes() == (
        DATA / "attack-enterprise.json.gz"
    ).read_bytes()

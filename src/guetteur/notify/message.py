"""What a notification says, in English or French: one alert change (what, where, when, why,
the ATT&CK techniques, a triage hint, a link to the console), a digest, a throttle summary,
or a test. Channels turn a `Message` into their format (`email.py`, `webhook.py`)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from guetteur.detect.attack import lookup
from guetteur.notify.model import SEVERITIES, AlertChange

Language = Literal["en", "fr"]

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "created": "New alert", "escalated": "Alert escalated", "severity": "Severity", "rule": "Rule",
        "where": "Entity", "when": "Seen", "why": "Why", "attack": "ATT&CK", "triage": "Triage hint",
        "open": "Open in the console", "hits": "{count} detection(s), {events} event(s)",
        "escalation": "severity went from {old} to {new}", "risk": "Risk score",
        "digest": "Digest: {total} alert change(s)", "summary": "{total} alert notification(s) held back",
        "summary_why": "Channel throttle reached: {total} alert change(s) between {start} and {end} were not sent "
                       "one by one. Every alert is in the console.",
        "digest_why": "Alert changes between {start} and {end}.", "more": "... and {more} more",
        "see_all": "See every alert", "test": "Guetteur test message",
        "test_body": "This is a test of the notification channel \"{name}\". If you read it, it works.",
        "from_to": "{first} to {last}", "none": "none", "by_severity": "By severity",
    },
    "fr": {
        "created": "Nouvelle alerte", "escalated": "Alerte aggravée", "severity": "Gravité", "rule": "Règle",
        "where": "Entité", "when": "Vue", "why": "Pourquoi", "attack": "ATT&CK", "triage": "Piste d'analyse",
        "open": "Ouvrir dans la console", "hits": "{count} détection(s), {events} événement(s)",
        "escalation": "la gravité est passée de {old} à {new}", "risk": "Score de risque",
        "digest": "Résumé : {total} changement(s) d'alerte", "summary": "{total} notification(s) d'alerte retenue(s)",
        "summary_why": "Limite du canal atteinte : {total} changement(s) d'alerte entre {start} et {end} n'ont pas "
                       "été envoyés un par un. Toutes les alertes sont dans la console.",
        "digest_why": "Changements d'alerte entre {start} et {end}.", "more": "... et {more} de plus",
        "see_all": "Voir toutes les alertes", "test": "Message de test de Guetteur",
        "test_body": "Ceci est un test du canal de notification « {name} ». Si vous le lisez, il fonctionne.",
        "from_to": "du {first} au {last}", "none": "aucune", "by_severity": "Par gravité",
    },
}
_SEVERITY = {"en": {"low": "low", "medium": "medium", "critical": "critical"},
             "fr": {"low": "faible", "medium": "moyenne", "critical": "critique"}}
# One hint per ATT&CK tactic: where an analyst starts.
_TRIAGE: dict[str, tuple[str, str]] = {
    "credential-access": ("Check whether a login succeeded from the same source afterwards; block the source "
                          "and reset the account's password if so.",
                          "Vérifier si une connexion a réussi depuis la même source ensuite ; si oui, bloquer "
                          "la source et changer le mot de passe du compte."),
    "initial-access": ("Check what the account or address did after this: logins, commands, data accessed.",
                       "Regarder ce que le compte ou l'adresse a fait ensuite : connexions, commandes, données lues."),
    "privilege-escalation": ("Confirm with the user whether the command was intended; look for new accounts or "
                             "persistence on the host.",
                             "Demander à l'utilisateur si la commande était voulue ; chercher de nouveaux comptes "
                             "ou une persistance sur l'hôte."),
    "persistence": ("List accounts, keys and scheduled tasks created on the host around this time.",
                    "Lister les comptes, clés et tâches planifiées créés sur l'hôte à ce moment."),
    "collection": ("Check whether this user should read these records; list what was read.",
                   "Vérifier si cet utilisateur devait lire ces dossiers ; lister ce qui a été lu."),
    "exfiltration": ("Identify the destination and the volume; isolate the host if the transfer is not "
                     "known and approved.",
                     "Identifier la destination et le volume ; isoler l'hôte si le transfert n'est ni connu ni "
                     "autorisé."),
    "execution": ("Look at the process tree and the command line on the host.",
                  "Examiner l'arbre des processus et la ligne de commande sur l'hôte."),
    "discovery": ("Look for what the same source did next (lateral movement, access).",
                  "Regarder ce que la même source a fait ensuite (mouvement latéral, accès)."),
}
_DEFAULT_TRIAGE = ("Open the alert, read its events and decide: true positive, false positive or benign.",
                   "Ouvrir l'alerte, lire ses événements et décider : vrai positif, faux positif ou bénin.")


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, channel-neutral: a subject, plain text, HTML, facts (label, value),
    a link, and the JSON document of the generic webhook."""

    subject: str
    text: str
    html: str
    link: str
    severity: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)


def _t(language: Language, key: str, **values: Any) -> str:
    return _TEXT[language][key].format(**values)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else "?"


def _techniques(change: AlertChange) -> str:
    names = []
    for technique in change.techniques:
        ref = lookup(technique)
        names.append(f"{technique} {ref.name}" if ref.name else technique)
    return ", ".join(names)


def triage_hint(change: AlertChange, language: Language) -> str:
    index = 0 if language == "en" else 1
    for tactic in change.tactics:
        hint = _TRIAGE.get(tactic.replace("_", "-").lower())
        if hint is not None:
            return hint[index]
    return _DEFAULT_TRIAGE[index]


def _entity(entity: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(entity.items())) or "-"


def _page(title: str, facts: list[tuple[str, str]], paragraphs: list[str], link: str, link_text: str) -> str:
    rows = "".join(f"<tr><th align=\"left\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<html><body><h2>{html.escape(title)}</h2><table>{rows}</table>{body}"
            f"<p><a href=\"{html.escape(link, quote=True)}\">{html.escape(link_text)}</a></p></body></html>")


def _plain(title: str, facts: list[tuple[str, str]], paragraphs: list[str], link: str, link_text: str) -> str:
    lines = [title, "", *(f"{k}: {v}" for k, v in facts), "", *paragraphs, "", f"{link_text}: {link}"]
    return "\n".join(lines) + "\n"


def render_alert(change: AlertChange, language: Language, console_url: str) -> Message:
    """The message of one created or escalated alert."""
    severity = _SEVERITY[language].get(change.severity, change.severity)
    head = _t(language, "escalated" if change.action == "escalated" else "created")
    subject = f"[Guetteur] [{severity.upper()}] {head}: {change.rule_title} ({_entity(change.entity)})"
    link = f"{console_url.rstrip('/')}/alerts/{change.alert_id}"
    why = _t(language, "hits", count=change.count, events=change.event_total)
    if change.action == "escalated" and change.previous_severity:
        why += "; " + _t(language, "escalation", old=_SEVERITY[language].get(change.previous_severity,
                                                                           change.previous_severity), new=severity)
    facts = [(_t(language, "severity"), severity), (_t(language, "rule"), f"{change.rule_title} ({change.rule_id})"),
             (_t(language, "where"), _entity(change.entity)),
             (_t(language, "when"), _t(language, "from_to", first=_when(change.first_seen),
                                       last=_when(change.last_seen))),
             (_t(language, "why"), why),
             (_t(language, "attack"), _techniques(change) or _t(language, "none"))]
    if change.risk_score is not None:
        facts.append((_t(language, "risk"), str(change.risk_score)))
    hint = triage_hint(change, language)
    facts.append((_t(language, "triage"), hint))
    document = {"type": f"alert.{change.action}", "alert": change.to_json(), "url": link,
                "triage_hint": hint}
    return Message(subject, _plain(subject, facts, [], link, _t(language, "open")),
                   _page(subject, facts, [], link, _t(language, "open")), link, change.severity, facts, document)


def render_held(kind: Literal["digest", "summary"], payload: dict[str, Any], language: Language,
                console_url: str) -> Message:
    """A digest or a throttle summary: how many, by severity, a bounded sample, where to see them."""
    total = int(payload.get("total", 0))
    start, end = str(payload.get("window_start", "?"))[:19], str(payload.get("window_end", "?"))[:19]
    by_severity: dict[str, int] = payload.get("by_severity") or {}
    sample = [AlertChange.from_json(item) for item in payload.get("sample") or []]
    top = max((s for s in by_severity if by_severity.get(s)), key=lambda s: SEVERITIES.index(s)
              if s in SEVERITIES else -1, default="low")
    subject = f"[Guetteur] {_t(language, kind, total=total)}"
    link = f"{console_url.rstrip('/')}/alerts"
    intro = _t(language, "summary_why" if kind == "summary" else "digest_why", total=total, start=start, end=end)
    facts = [(_t(language, "by_severity"), ", ".join(f"{_SEVERITY[language].get(s, s)}: {n}"
                                                     for s, n in sorted(by_severity.items())))]
    lines = [f"[{_SEVERITY[language].get(c.severity, c.severity)}] {c.rule_title} ({_entity(c.entity)}) "
             f"{console_url.rstrip('/')}/alerts/{c.alert_id}" for c in sample]
    if total > len(sample):
        lines.append(_t(language, "more", more=total - len(sample)))
    document = {"type": kind, "total": total, "window_start": payload.get("window_start"),
                "window_end": payload.get("window_end"), "by_severity": by_severity,
                "alerts": [c.to_json() for c in sample], "url": link}
    return Message(subject, _plain(subject, facts, [intro, *lines], link, _t(language, "see_all")),
                   _page(subject, facts, [intro, *lines], link, _t(language, "see_all")), link, top, facts, document)


def render_test(channel_name: str, language: Language, console_url: str) -> Message:
    subject = f"[Guetteur] {_t(language, 'test')}"
    body = _t(language, "test_body", name=channel_name)
    link = console_url.rstrip("/") + "/"
    return Message(subject, _plain(subject, [], [body], link, _t(language, "open")),
                   _page(subject, [], [body], link, _t(language, "open")), link, "low", [],
                   {"type": "test", "channel": channel_name, "text": body})

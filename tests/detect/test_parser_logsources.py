"""Every parser's events reach the Sigma rules written for them: each registered parser is mapped
to a log source (`detect/logsource.py`) by its name (`DATASET_SOURCES`), by its family
(`MODULE_PRODUCTS`), or sets an `event.dataset` of its own that is routed (listed below with why).
A new parser without a mapping fails here instead of being silently invisible to its rules (as
`cisco_asa_line`, ASA lines read from a file, was to the Cisco firewall rules)."""

from __future__ import annotations

import time

from guetteur.detect.logsource import DATASET_SOURCES, MODULE_PRODUCTS, classify
from guetteur.model import RawRecord
from guetteur.parse import PARSERS, parse_record

ROUTED_BY_THEIR_OWN_DATASET = {
    "zeek": "event.dataset zeek.<log>, routed as product zeek and service <log>",
    "zeek_tsv": "the same records as zeek, from TSV files",
    "shipper_document": "the dataset of the shipper's document, or of the parser of its message",
}


def test_every_parser_is_mapped_to_a_log_source() -> None:
    unmapped = sorted(name for name, parser in PARSERS.items()
                      if name not in DATASET_SOURCES and parser.family not in MODULE_PRODUCTS
                      and name not in ROUTED_BY_THEIR_OWN_DATASET)
    assert unmapped == [], "add each to DATASET_SOURCES (detect/logsource.py); see docs/contributing.md"


def test_asa_lines_from_a_file_are_cisco_firewall_events() -> None:
    line = ("%ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.4/5000 (192.0.2.4/5000) "
            "to inside:10.0.0.1/22 (10.0.0.1/22)")
    source = classify(parse_record(RawRecord(line, time.time(), "file", "cisco_asa_line")))
    assert source.product == "cisco" and "firewall" in source.categories

"""Workers send correlation only projected events; correlation must fire exactly as on whole events."""

from __future__ import annotations

import itertools
import pickle
import random
import time

from guetteur.config import DetectSettings
from guetteur.demo import Sim, normal_traffic
from guetteur.demo.scenarios import SCENARIOS
from guetteur.model import RawRecord
from guetteur.parse import parse_batch
from guetteur.pipeline.detection import CorrelationStage, WorkerDetection
from guetteur.pipeline.projection import add_path, project


def _events() -> list[dict]:
    sim = Sim(rng=random.Random(7))
    lines = [s.line for s in itertools.islice(normal_traffic(sim), 3000)]
    for scenario in SCENARIOS.values():
        lines.extend(s.line for s in scenario.play(sim))
    now = time.time()
    records = [RawRecord(line.encode(), now, "syslog-tcp") for line in lines]
    return parse_batch(records).events + parse_batch([]).events


def _key(hit: object) -> tuple:
    return (hit.rule_id, tuple(sorted((hit.group_key or {}).items())), tuple(hit.event_ids),  # type: ignore[attr-defined]
            hit.extra.get("value"))  # type: ignore[attr-defined]


def test_projected_feed_fires_the_same_correlations() -> None:
    events = _events()
    detection = WorkerDetection(DetectSettings(correlation_lateness=5.0))
    feed = detection.run(events).correlation
    assert feed, "the demo must feed correlations, or this test proves nothing"
    # reference: the engine on whole events and the detector's own hits
    reference = CorrelationStage(DetectSettings(correlation_lateness=5.0)).engine
    expected = []
    for event in events:
        hits = [h for h in detection.detector.match(event) if detection._router.wants(h)]
        if hits:
            expected.extend(h for h in reference.process(event, hits) if h.alert)
    expected.extend(h for h in reference.flush() if h.alert)
    stage = CorrelationStage(DetectSettings(correlation_lateness=5.0))
    fired = stage.correlate(pickle.loads(pickle.dumps(feed)))
    fired.extend(h for h in stage.engine.flush() if h.alert)
    assert expected, "no correlation fired on the attack scenarios"
    assert sorted(map(_key, fired)) == sorted(map(_key, expected))


def test_projection_keeps_exactly_the_paths() -> None:
    trie: dict = {}
    for path in (("source", "ip"), ("user", "name"), ("winlog", "event_data", "x"), ("user",), ("@timestamp",)):
        add_path(trie, path)
    event = {"@timestamp": "t", "source": {"ip": "1.2.3.4", "port": 5}, "user": {"name": "a", "id": 1},
             "winlog": {"event_data": "not a dict"}, "message": "big"}
    assert project(event, trie) == {"@timestamp": "t", "source": {"ip": "1.2.3.4"}, "user": {"name": "a", "id": 1},
                                    "winlog": {}}
    assert project({}, trie) == {}

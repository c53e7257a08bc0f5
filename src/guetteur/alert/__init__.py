"""Alerting: hits become alerts (severity, grouping by rule and entity, silences, lifecycle).

`model` (severities, entities, records), `grouping` (hits -> alert changes, by event time),
`silences` (matchers), `lifecycle` (status changes), `manager` (the one task that writes alerts),
`risk` (risk scores). The SQL lives in `guetteur.store.alerts` and `guetteur.store.silences`.
"""

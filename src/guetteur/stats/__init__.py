"""Statistical detection (issue 11): silent sources, frequency baselines, first-seen values.

Workers aggregate each batch (`batch.collect_batch`); the main process judges
(`stage.StatsStage`) and emits hits (`guetteur.silent_source`, `guetteur.frequency`, and each
first-seen rule's id). How each detector works and how to tune it: docs/statistics.md.
"""

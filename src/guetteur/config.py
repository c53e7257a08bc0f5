"""One validated settings object: defaults < TOML file < `GUETTEUR_*` environment variables.

The TOML file is `--config PATH`, else `$GUETTEUR_CONFIG`, else `./guetteur.toml` when it exists.
Nested values use `__` in environment variables (`GUETTEUR_SYSLOG__TCP_PORT=6514`).
Every setting is documented in the README's configuration table; keep both in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "guetteur"


class MultilineSettings(BaseModel):
    """How continuation lines join into one record (collect/multiline.py)."""

    enabled: bool = Field(True, description="join continuation lines (false: one line, one record)")
    first_line: str | None = Field(
        None, description="regex a record's first line matches (other lines continue it); unset = the built-in "
                          "rules: Python tracebacks, Java stack traces, indented continuation lines")
    max_lines: int = Field(500, ge=1, description="lines in one record; more start a new record")
    max_bytes: int = Field(1_048_576, ge=1024, description="bytes in one record (capped by pipeline.max_record_bytes)")
    timeout: float = Field(1.0, gt=0, description="seconds a record is held waiting for its next line (a file "
                                                  "being written)")

    @field_validator("first_line")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid multiline first_line regex {value!r}: {exc}") from exc
        return value


class FileInput(BaseModel):
    """A file input: a glob tailed continuously, with an optional parser hint."""

    path: str
    hint: str | None = None
    multiline: MultilineSettings = Field(default_factory=lambda: MultilineSettings())


class TlsSettings(BaseModel):
    """A TLS server identity (syslog over TLS, HTTPS): unset files = a self-signed pair generated on first
    start into `data_dir/tls/` (key mode 0600), its SHA-256 fingerprint printed (`guetteur tls fingerprint`)."""

    cert_file: Path | None = Field(None, description="PEM certificate (chain) of the server")
    key_file: Path | None = Field(None, description="PEM private key of `cert_file`")
    client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: when set, clients must present a certificate it signed (mTLS)")
    handshake_timeout: float = Field(10.0, gt=0, description="seconds a client has to complete its handshake")


class SyslogSettings(BaseModel):
    host: str = "0.0.0.0"
    udp_port: int = Field(5514, ge=0, le=65535)
    tcp_port: int = Field(5514, ge=0, le=65535)
    tls_enabled: bool = Field(True, description="listen for syslog over TLS (RFC 5425) on tls_port")
    tls_port: int = Field(6514, ge=0, le=65535, description="syslog over TLS (RFC 5425)")
    tls: TlsSettings = Field(default_factory=lambda: TlsSettings())
    max_connections: int = Field(1000, ge=1)
    max_connections_per_address: int = Field(100, ge=1, description="TCP connections one remote address may hold")
    idle_timeout: float = Field(300.0, gt=0, description="seconds a TCP connection may send nothing")
    frame_timeout: float = Field(60.0, gt=0, description="seconds an unfinished TCP record may be held")


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    https: Literal["auto", "on", "off"] = Field(
        "auto", description="serve HTTPS: auto = on unless `host` is a loopback address (the quick start on "
                            "127.0.0.1 stays plain HTTP, anything reachable from the network is TLS)")
    tls: TlsSettings = Field(default_factory=lambda: TlsSettings())
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_records_per_request: int = Field(
        100_000, ge=1, description="records in one ingest request, more get 413 (capped by pipeline.queue_size)")
    body_timeout: float = Field(60.0, gt=0, description="seconds an ingest body may take to arrive; slower gets 408")
    header_timeout: float = Field(
        10.0, gt=0, description="seconds a connection may take to send a request's line and headers, from its "
                                "start or the previous response; slower is closed")
    max_connections: int = Field(
        1000, ge=1, description="open HTTP connections; past it the one waiting longest for its headers is closed")
    page_size_max: int = Field(1000, ge=1)
    elasticsearch_version: str = Field(
        "9.5.0", pattern=r"^\d+\.\d+\.\d+$",
        description="the Elasticsearch version /es announces: Beats and Elastic Agent refuse one older than "
                    "themselves (docs/shippers.md)")


class PipelineSettings(BaseModel):
    queue_size: int = Field(200_000, ge=100, description="records waiting to be parsed and stored")
    batch_size: int = Field(5_000, ge=1)
    batch_max_age: float = Field(0.2, gt=0, description="seconds before a partial batch is written")
    max_record_bytes: int = Field(1_048_576, ge=1024, description="longer records are cut and tagged 'truncated'")
    workers: int = Field(0, ge=0, le=64, description="parser worker processes; 0 = one per core")
    commit_wait: float = Field(30.0, gt=0, description="seconds an acknowledging request (HTTP ingest) waits "
                               "for the commit of its records before answering 503")


class ParseSettings(BaseModel):
    timezone: str = "UTC"
    json_field_map: dict[str, str] = Field(
        default_factory=lambda: {
            "timestamp": "@timestamp",
            "time": "@timestamp",
            "ts": "@timestamp",
            "level": "log.level",
            "severity": "log.level",
            "msg": "message",
            "host": "host.name",
            "hostname": "host.name",
            "user": "user.name",
            "username": "user.name",
            "logger": "log.logger",
            "src_ip": "source.ip",
            "client_ip": "source.ip",
        },
        description="JSON key -> ECS field, for JSON lines that are not ECS already",
    )
    # extraction patterns (docs/extractors.md), run after the built-in parsers
    patterns_dirs: list[Path] = Field(default_factory=list, description="extra pattern folders or files")
    builtin_patterns: bool = Field(True, description="load the shipped patterns (patterns/)")
    patterns_reload_interval: float = Field(5.0, ge=0, description="seconds between checks of pattern files; "
                                            "0 = never")
    pattern_timeout: float = Field(0.05, gt=0, le=5, description="seconds one regex pattern may take on one "
                                   "event; a pattern that times out 3 times is disabled until reloaded")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class StoreSettings(BaseModel):
    partitions_ahead_days: int = Field(3, ge=1, le=60)
    pool_size: int = Field(8, ge=2)
    check_interval: float = Field(1.0, gt=0, le=60, description="seconds between checks that PostgreSQL answers")
    restart_backoff_max: float = Field(30.0, ge=1, description="longest wait between restarts of the embedded server")
    shutdown_wait: float = Field(30.0, ge=0, description="seconds a stop waits for an unavailable database "
                                 "before giving up on what was accepted and not yet stored")


class DetectSettings(BaseModel):
    rules_dirs: list[Path] = Field(default_factory=list, description="extra Sigma rule folders")
    correlation_lateness: float = Field(60.0, ge=0, description="seconds an out-of-order event may lag")
    correlation_max_future: float = Field(
        10.0, ge=0, description="seconds ahead of the wall clock beyond which a timestamp is skewed (clamped)"
    )
    correlation_max_clocks: int = Field(10_000, ge=1, description="event-time clocks kept (one per stream)")
    correlation_clock_idle: float = Field(
        600.0, gt=0, description="seconds after which a silent stream's clock is dropped"
    )
    disabled_rules: list[str] = Field(default_factory=list, description="rule ids (or names) not evaluated")
    placeholders: dict[str, list[str]] = Field(
        default_factory=dict, description="values of Sigma %placeholders% (name -> values), for `expand` rules"
    )
    reload_interval: float = Field(5.0, ge=0, description="seconds between checks of rule files; 0 = never")
    managed_dir: Path | None = Field(
        None, description="rules written through the API and console (local/, proposals/, switches.json); "
                          "unset = data_dir/rules")

    def rule_folders(self, *, watch: bool = False) -> list[Path]:
        """`rules_dirs`, then the local rules written through the API (they win by rule id);
        that folder only once it exists, unless `watch` (a watcher notices it appear)."""
        folders = list(self.rules_dirs)
        if self.managed_dir is not None and (watch or (self.managed_dir / "local").is_dir()):
            folders.append(self.managed_dir / "local")
        return folders

    def switches_file(self) -> Path | None:
        """The file of the rules an admin turned off or on (`detect/local_rules.py`)."""
        return None if self.managed_dir is None else self.managed_dir / "switches.json"


class AuthSettings(BaseModel):
    """People on the API: tokens, second factor, login brute-force protection, rate limits."""

    jwt_secret: SecretStr | None = Field(
        None, description="HS256 key of access tokens (32+ characters); unset = generated once into "
                          "`data_dir/jwt.key` (mode 0600)")
    access_token_seconds: int = Field(900, ge=30, le=86_400, description="lifetime of an access token")
    refresh_token_seconds: int = Field(7 * 86_400, ge=300, description="lifetime of a refresh token")
    require_totp_for_admins: bool = Field(
        True, description="an admin without a second factor may only enrol one (TOTP) until done")
    login_free_failures: int = Field(5, ge=1, description="failed logins of one account before backoff")
    address_free_failures: int = Field(20, ge=1, description="failed logins from one address before backoff")
    login_backoff_seconds: float = Field(2.0, gt=0, description="first lockout; doubles each further failure")
    login_backoff_max: float = Field(900.0, gt=0, description="longest lockout (then 429 until it ends)")
    rate_per_second: float = Field(50.0, gt=0, description="API requests per second per user or key")
    rate_burst: int = Field(500, ge=1, description="requests a user or key may send at once")


class SearchSettings(BaseModel):
    statement_timeout: float = Field(10.0, gt=0, le=600, description="seconds one search may run in PostgreSQL")
    max_concurrent: int = Field(4, ge=1, description="searches running at once; more get 429")
    page_size_max: int = Field(500, ge=1, le=10_000, description="events per search page")
    export_max_rows: int = Field(100_000, ge=1, description="rows of one CSV or NDJSON export")
    sample_size: int = Field(500, ge=10, le=10_000, description="recent events read for top values and the field list")
    stream_queue: int = Field(1000, ge=10, description="events held for one live-stream client before it is dropped")
    rollup_interval: float = Field(1.0, ge=0, description="seconds between rounds of the per-minute counts' task "
                                   "(counts and histograms read them); 0 = off (they read every event)")


class RiskSettings(BaseModel):
    """Risk scores (`alert/risk.py`, `docs/risk.md`): asset criticality, entity risk, risk alerts."""

    enabled: bool = Field(True, description="score entities and raise risk alerts")
    hosts: dict[str, Literal["low", "medium", "high", "extreme"]] = Field(
        default_factory=dict, max_length=10_000,
        description="host.name glob pattern -> asset criticality (odds multiplier 0.5 / 1 / 1.5 / 2)")
    users: dict[str, Literal["low", "medium", "high", "extreme"]] = Field(
        default_factory=dict, max_length=10_000,
        description="user.name glob pattern -> asset criticality (unmatched names are medium)")
    window_hours: float = Field(24.0, gt=0, le=24 * 30, description="sliding window of entity risk (event time)")
    score_threshold: float = Field(
        40.0, gt=0, le=100, description="entity score (0-100) whose crossing raises a guetteur.risk.score alert")
    tactics_threshold: int = Field(
        3, ge=2, le=14, description="distinct ATT&CK tactics in the window that raise a guetteur.risk.tactics alert")
    tactics_min_rules: int = Field(2, ge=1, description="distinct rules those tactics must come from")
    max_contributions: int = Field(
        1000, ge=10, le=100_000, description="highest contributions per entity counted in its score")
    interval: float = Field(1.0, gt=0, le=60, description="seconds between two reads of new alert hits")

    @field_validator("hosts", "users")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value:
            if not pattern.strip() or len(pattern) > 255:
                raise ValueError(f"asset pattern {pattern[:40]!r}: 1 to 255 characters")
        return value


class NotifySettings(BaseModel):
    """Notifications of alerts (docs/notifications.md). Channels and routes live in the database
    (API `/api/v1/notify/...`); these are the engine's knobs."""

    enabled: bool = Field(True, description="route alert changes and deliver notifications")
    console_url: str | None = Field(
        None, description="base URL of the console in messages (links `{console_url}/alerts/{id}`); "
                          "unset = http://<api.host>:<api.port>")
    language: Literal["en", "fr"] = Field("en", description="language of channels that do not set one")
    poll_interval: float = Field(1.0, gt=0, le=60, description="seconds between reads of new alert changes "
                                 "(a NOTIFY from the alert manager wakes it sooner)")
    batch_size: int = Field(500, ge=1, le=10_000, description="alert changes routed per transaction")
    throttle_limit: int = Field(20, ge=0, description="immediate messages per channel per throttle window; "
                                "past it one summary says what was held back (0 = no throttle)")
    throttle_window: float = Field(600.0, gt=0, description="seconds of a throttle window")
    summary_sample: int = Field(20, ge=1, le=500, description="alerts listed in a digest or throttle summary")
    max_attempts: int = Field(8, ge=1, le=100, description="delivery tries before a message is dead-lettered")
    retry_base: float = Field(5.0, gt=0, description="seconds before the first retry; doubles each try")
    retry_max: float = Field(900.0, gt=0, description="longest wait between two tries")
    timeout: float = Field(20.0, gt=0, le=300, description="seconds one delivery (connect, send, answer) may take")
    max_response_bytes: int = Field(65_536, ge=1024, description="bytes of a webhook answer read at most")
    concurrency: int = Field(4, ge=1, le=64, description="deliveries in flight at once")
    demo_mailbox: Path | None = Field(
        None, description="maildir of the demo catch-all SMTP server (`guetteur up --demo --mail`); "
                          "unset = data_dir/demo-mailbox")


SigmaLevel = Literal["informational", "low", "medium", "high", "critical"]


class StatsSettings(BaseModel):
    """Statistical detectors (docs/statistics.md): silent sources, frequency baselines, first-seen values."""

    enabled: bool = Field(True, description="run the statistical detectors")
    silent_min_seconds: float = Field(
        900.0, ge=60, description="a source is silent only after this many seconds without events")
    silent_gap_factor: float = Field(
        10.0, ge=1, description="... and after this many times its usual gap between arrivals")
    silent_learning: int = Field(20, ge=2, description="arrivals a source needs before its silence is judged")
    silent_level: SigmaLevel = Field("medium", description="Sigma level of a silent-source hit")
    max_sources: int = Field(10_000, ge=10, description="hosts and source types watched for silence")
    frequency_max_series: int = Field(
        5_000, ge=10, description="frequency series kept (the busiest; the quietest are evicted)")
    frequency_min_count: int = Field(
        30, ge=1, description="events in a minute below which no frequency hit fires (quiet series)")
    frequency_z: float = Field(6.0, gt=0, description="z-score of a minute's count above its baseline to fire")
    frequency_p_value: float = Field(
        1e-6, gt=0, lt=1, description="Poisson upper-tail probability of the count below which it fires")
    frequency_learning_minutes: int = Field(
        1440, ge=1, description="minutes a series is observed before it may fire (a day: its daily cycle)")
    frequency_half_life_days: float = Field(
        7.0, gt=0, description="half-life of the baselines (per hour of the day), in days of observations")
    frequency_lateness: float = Field(
        120.0, ge=0, description="seconds of event time a minute stays open for late events before it is judged")
    frequency_level: SigmaLevel = Field("low", description="Sigma level of a frequency hit")
    first_seen_max_values: int = Field(
        100_000, ge=100, description="values one first-seen rule remembers (the least recently seen are dropped)")
    save_interval: float = Field(60.0, ge=1, description="seconds between saves of the learnt state")


class RetentionSettings(BaseModel):
    """How long stored data is kept, in days (0 = forever). Changeable from the console
    (`/api/v1/settings`, docs/security.md "Runtime settings"). Enforced by the retention task of
    `guetteur up` (at start, then hourly) and `guetteur retention run` (store/retention.py,
    docs/storage.md "Retention"): older day partitions of events are dropped, older hits and
    closed alerts deleted."""

    events_days: int = Field(0, ge=0, le=36_500, description="days of stored events (whole day partitions)")
    hits_days: int = Field(0, ge=0, le=36_500, description="days of detection hits")
    alerts_days: int = Field(0, ge=0, le=36_500, description="days of closed alerts")


class AlertSettings(BaseModel):
    """Alerts (`alert/`, docs/alerts.md): grouping of hits into alerts by the alert manager."""

    enabled: bool = Field(True, description="turn detection hits into alerts")
    group_window: float = Field(3600.0, gt=0, le=30 * 86_400, description="seconds (event time) after an open "
                                "alert's last event during which the same rule on the same entity updates it")
    severity_overrides: dict[str, Literal["low", "medium", "critical"]] = Field(
        default_factory=dict, max_length=10_000, description="rule id -> alert severity, instead of the one "
        "its Sigma level gives (informational/low -> low, medium -> medium, high/critical -> critical)")
    max_event_ids: int = Field(100, ge=1, le=10_000, description="contributing event ids kept per alert "
                               "(every event is counted in event_total)")
    poll_interval: float = Field(0.5, gt=0, le=60, description="seconds between reads of new hits when no "
                                 "NOTIFY from the hit writers came")
    batch_size: int = Field(5000, ge=1, le=100_000, description="hits grouped per transaction")
    gap_grace: float = Field(60.0, gt=0, le=3600, description="seconds a missing hit id (a transaction not yet "
                             "committed) is waited for before the cursor moves past it")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUETTEUR_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(None, description="external PostgreSQL; unset = embedded server")
    syslog: SyslogSettings = Field(default_factory=lambda: SyslogSettings())
    api: ApiSettings = Field(default_factory=lambda: ApiSettings())
    pipeline: PipelineSettings = Field(default_factory=lambda: PipelineSettings())
    parse: ParseSettings = Field(default_factory=lambda: ParseSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    detect: DetectSettings = Field(default_factory=lambda: DetectSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    search: SearchSettings = Field(default_factory=lambda: SearchSettings())
    alert: AlertSettings = Field(default_factory=lambda: AlertSettings())
    notify: NotifySettings = Field(default_factory=lambda: NotifySettings())
    risk: RiskSettings = Field(default_factory=lambda: RiskSettings())
    stats: StatsSettings = Field(default_factory=lambda: StatsSettings())
    retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())
    file_inputs: list[FileInput] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def detect_settings(settings: Settings) -> DetectSettings:
    """`settings.detect` with `managed_dir` filled in (`data_dir/rules` when unset): what the
    pipeline's workers, its correlation stage and the rule commands use."""
    detect = settings.detect
    if detect.managed_dir is not None:
        return detect
    return detect.model_copy(update={"managed_dir": settings.data_dir / "rules"})


def config_path(explicit: Path | None = None) -> Path | None:
    """The configuration file in force, or None when there is none."""
    if explicit is not None:
        return explicit
    env = os.environ.get("GUETTEUR_CONFIG")
    if env:
        return Path(env)
    local = Path("guetteur.toml")
    return local if local.is_file() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the settings. Raises `pydantic.ValidationError` with every problem."""
    toml_file = config_path(path)
    if toml_file is not None and not toml_file.is_file():
        raise FileNotFoundError(f"configuration file not found: {toml_file}")

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": toml_file})

    return Settings.model_validate(_FileSettings(**overrides).model_dump())

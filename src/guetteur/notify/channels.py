"""Validated channel and route configurations (the API's bodies; malformed -> 422 with the reason).

A channel's secrets (`password`, `hmac_key`) are split from the rest before storage: the rest is
kept as JSON and returned by the API, the secrets only sealed (`secrets.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from guetteur.notify.model import SEVERITIES, Match

SECRET_FIELDS = ("password", "hmac_key")
_Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
_Pattern = Annotated[str, Field(min_length=1, max_length=200)]
_Field = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.@-]{0,99}$")]
_Throttle = Field(None, ge=0, le=10_000, description="immediate messages per throttle window for this channel "
                  "(unset = notify.throttle_limit; 0 = no throttle)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailConfig(_Strict):
    """Email over SMTP: `starttls` (port 587), implicit `tls` (465) or `none` (local relays only)."""

    kind: Literal["email"] = "email"
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(None, max_length=320)
    password: SecretStr | None = Field(None, description="write-only: never returned")
    sender: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s<>]+@[^@\s<>]+$")
    recipients: list[Annotated[str, Field(max_length=320, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$")]] = Field(
        min_length=1, max_length=100)
    language: Literal["en", "fr"] | None = None
    verify_tls: bool = Field(True, description="check the server's certificate (keep on outside tests)")
    ca_file: str | None = Field(None, max_length=4096, description="extra CA bundle (PEM) to trust")
    throttle_limit: int | None = _Throttle


class WebhookConfig(_Strict):
    """An HTTP POST: generic JSON (optionally signed), Slack/Mattermost or Microsoft Teams."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(min_length=8, max_length=2048)
    format: Literal["json", "slack", "teams"] = "json"
    hmac_key: SecretStr | None = Field(None, description="write-only: signs generic JSON (X-Guetteur-Signature)")
    language: Literal["en", "fr"] | None = None
    verify_tls: bool = True
    throttle_limit: int | None = _Throttle

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise ValueError("url must not carry credentials")
        return value


ChannelConfig = Annotated[EmailConfig | WebhookConfig, Field(discriminator="kind")]
_channel_adapter: TypeAdapter[EmailConfig | WebhookConfig] = TypeAdapter(ChannelConfig)


class ChannelCreate(_Strict):
    name: _Name
    enabled: bool = True
    config: ChannelConfig


def parse_channel(config: dict[str, Any]) -> EmailConfig | WebhookConfig:
    """Validate a channel configuration (raises pydantic.ValidationError with every problem)."""
    return _channel_adapter.validate_python(config)


def split_secrets(config: EmailConfig | WebhookConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """(what may be stored and shown, the secrets to seal)."""
    shown = config.model_dump(mode="json", exclude=set(SECRET_FIELDS))
    secrets: dict[str, str] = {}
    for name in SECRET_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            secrets[name] = value.get_secret_value()
    return shown, secrets


class MatchBody(_Strict):
    severities: list[Literal["low", "medium", "critical"]] = Field(default_factory=list, max_length=3)
    rules: list[_Pattern] = Field(default_factory=list, max_length=100)
    tags: list[_Pattern] = Field(default_factory=list, max_length=100)
    entity: dict[_Field, _Pattern] = Field(default_factory=dict, max_length=10,
                                           description="entity field (host.name, user.name, source.ip...) -> pattern")

    def to_match(self) -> Match:
        return Match(tuple(s for s in SEVERITIES if s in self.severities), tuple(self.rules), tuple(self.tags),
                     dict(self.entity))


class RouteCreate(_Strict):
    name: _Name
    channel: int = Field(ge=1, description="the channel's id")
    match: MatchBody = Field(default_factory=MatchBody)
    mode: Literal["immediate", "digest"] = "immediate"
    digest_minutes: int = Field(60, ge=1, le=10080, description="digest routes: minutes between digests")
    enabled: bool = True

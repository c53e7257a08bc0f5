"""What a source is: the `Source` protocol, and the table of source types `serve` starts.

A source turns bytes from the outside into `RawRecord`s and hands them to a `RecordSink`
(the pipeline). Every source, whatever its transport, is the same object to the server:

* built from the settings and the sink: ``SourceClass(settings, sink)``;
* ``enabled(settings)`` (a class method) says whether the configuration asks for it;
* ``start()`` listens (or starts reading) and raises when it cannot (a port taken);
* ``stop()`` stops accepting and hands over what it already received (nothing that was
  acknowledged is lost; see each source for what it does with a partial record);
* ``name`` is the input type of its records (`RawRecord.source`, stored as `input.type`,
  the key of its counters in the health details);
* ``peer_field`` is the ECS field its records' `peer` goes to: `log.source.address` for a
  network sender, `log.file.path` for a file;
* ``settings`` is its own section of the configuration (what `guetteur config` shows for it);
* ``counters`` is a `SourceCounters`: the counters every source emits (see
  `guetteur.collect.counters` for the contract);
* ``describe()`` is what the start-up line and `serve`'s `on_ready` report about it: a
  small dict, usually ``{"syslog_tcp": <bound port>}``.

`SOURCE_TYPES` names every source class by its configuration name, as Vector's component
registry does; `build_sources` instantiates the enabled ones. Adding a source is one
module with one class and one line here (and its settings section); `docs/contributing.md`
has the recipe.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from guetteur.collect.counters import SourceCounters
    from guetteur.collect.sink import RecordSink
    from guetteur.config import Settings

from guetteur.model import PEER_ADDRESS, PEER_FILE

__all__ = ["PEER_ADDRESS", "PEER_FILE", "SOURCE_TYPES", "Source", "SourceType", "build_sources",
           "describe_sources", "source_type"]


@runtime_checkable
class Source(Protocol):
    """One running input. See the module docstring for the contract."""

    name: ClassVar[str]
    peer_field: ClassVar[str]
    counters: SourceCounters

    @property
    def settings(self) -> Any:
        """Its section of the configuration."""
        ...

    async def start(self) -> None:
        """Start receiving; raises OSError (or a `GuetteurError`) when it cannot."""
        ...

    async def stop(self) -> None:
        """Stop receiving and hand over what was received."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the start-up line reports (its bound port, its certificate fingerprint...)."""
        ...


class SourceType(Protocol):
    """A source class: what `build_sources` needs before an instance exists."""

    def __call__(self, settings: Settings, sink: RecordSink) -> Source: ...

    def enabled(self, settings: Settings) -> bool: ...


# Configuration name -> "module:Class". Started in this order, stopped in the reverse.
SOURCE_TYPES: dict[str, str] = {
    "syslog_udp": "guetteur.collect.syslog_udp:SyslogUdpSource",
    "syslog_tcp": "guetteur.collect.syslog_tcp:SyslogTcpSource",
    "syslog_tls": "guetteur.collect.syslog_tls:SyslogTlsSource",
    "file": "guetteur.collect.file_tail:FileTailSource",
}


def source_type(name: str) -> SourceType:
    """The source class registered as `name` (KeyError when there is none)."""
    module, _, attribute = SOURCE_TYPES[name].partition(":")
    found: SourceType = getattr(importlib.import_module(module), attribute)
    return found


def build_sources(settings: Settings, sink: RecordSink) -> list[Source]:
    """An instance of every source type the settings enable, in `SOURCE_TYPES` order."""
    sources: list[Source] = []
    for name in SOURCE_TYPES:
        kind = source_type(name)
        if kind.enabled(settings):
            sources.append(kind(settings, sink))
    return sources


def describe_sources(sources: list[Source]) -> dict[str, Any]:
    """The sources' descriptions merged into one dict (for `serve`'s info)."""
    info: dict[str, Any] = {}
    for source in sources:
        info.update(source.describe())
    return info

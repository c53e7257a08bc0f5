"""A main process for the parent-death test (run as a script): starts the real Pipeline with two
workers on the database given, hands them records, prints "started" and waits to be killed."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from guetteur.config import DetectSettings, PipelineSettings, Settings
from guetteur.model import RawRecord
from guetteur.pipeline.runtime import Pipeline


async def main(dsn: str, data_dir: str) -> None:
    settings = Settings(data_dir=Path(data_dir), database_url=dsn,
                        pipeline=PipelineSettings(workers=2, batch_size=50, batch_max_age=0.05),
                        detect=DetectSettings(reload_interval=0))
    pipeline = Pipeline(settings, dsn)
    await pipeline.start()
    now = time.time()
    lines = [f"<38>Dec  5 10:00:{i % 60:02d} web-1 sshd[{1000 + i}]: Failed password for root from"
             f" 203.0.113.{i % 250 + 1} port {40000 + i} ssh2" for i in range(400)]
    pipeline.offer_many([RawRecord(line.encode(), now, "syslog-udp") for line in lines])
    print("started", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

"""EVTX import throughput: reading `.evtx` files and parsing every record to ECS, one core.

    python bench/evtx_import.py [--records 100000] [--threads 1]

The shared samples (DeepBlueCLI + SigmaHQ regression files, ~700 records) are read
again and again until `--records` records went through `iter_evtx_records` and
`parse_batch` (batches of 5,000, as the pipeline). Timed on this process's CPU time
(the machine is shared); the reader's worker threads count too. Prints records/s for
reading alone, parsing alone (the batches read beforehand, as a parser worker receives
them) and reading + parsing. `parse_batch` pauses the cyclic GC itself, as in a worker.

Most sample files hold one to five records in a 64 KiB chunk, so "read" here is mostly
the per-file cost (open, header, one chunk read and checked); `--big` reads only the
largest sample (295 records) to show the per-record cost of a real-sized log.
"""

from __future__ import annotations

import argparse
import gc
import glob
import sys
import time
from pathlib import Path

from guetteur.collect.evtx import iter_evtx_records
from guetteur.parse import parse_batch

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BATCH = 5_000


def files(big: bool = False) -> list[str]:
    if big:
        return [str(DATA / "logs/windows-evtx/deepbluecli/password-spray.evtx")]
    found = sorted(glob.glob(str(DATA / "logs/windows-evtx/deepbluecli/*.evtx")))
    found += sorted(glob.glob(str(DATA / "sigma/regression_data/**/*.evtx"), recursive=True))
    return found


def run(paths: list[str], records: int, threads: int, parse: bool) -> tuple[int, float]:
    done = 0
    gc.collect()
    begin = time.process_time()
    batch = []
    while done < records:
        for path in paths:
            for record in iter_evtx_records(path, threads=threads):
                batch.append(record)
                done += 1
                if len(batch) >= BATCH:
                    if parse:
                        parse_batch(batch)
                    batch = []
            if done >= records:
                break
    if batch and parse:
        parse_batch(batch)
    return done, time.process_time() - begin


def read_batches(paths: list[str], records: int, threads: int) -> list[list]:
    batches: list[list] = [[]]
    done = 0
    while done < records:
        for path in paths:
            for record in iter_evtx_records(path, threads=threads):
                if len(batches[-1]) >= BATCH:
                    batches.append([])
                batches[-1].append(record)
                done += 1
            if done >= records:
                break
    return batches


def parse_only(batches: list[list]) -> tuple[int, float]:
    gc.collect()
    spent = 0.0
    for batch in batches:
        begin = time.process_time()
        parse_batch(batch)
        spent += time.process_time() - begin
    return sum(map(len, batches)), spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1, help="evtx reader threads (1 = this core only)")
    parser.add_argument("--big", action="store_true", help="only the largest sample file (per-record cost)")
    args = parser.parse_args(argv)
    paths = files(args.big)
    if args.big and not Path(paths[0]).exists():
        paths = []
    if not paths:
        print(f"no EVTX samples under {DATA}", file=sys.stderr)
        return 1
    count, spent = run(paths, args.records, args.threads, parse=False)
    print(f"read only       {count:>8} records  {count / spent:>10,.0f} records/s (CPU)")
    batches = read_batches(paths, args.records, args.threads)
    count, spent = parse_only(batches)
    del batches
    print(f"parse only      {count:>8} records  {count / spent:>10,.0f} records/s (CPU)")
    count, spent = run(paths, args.records, args.threads, parse=True)
    print(f"read + parse    {count:>8} records  {count / spent:>10,.0f} records/s (CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

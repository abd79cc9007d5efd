"""``python -m tools.case_simulator`` — a simulated district day against running services.

    python -m tools.case_simulator [--per-minute 6] [--count N] [--seed 1] \
        [--handle-after 20] [--district 320505]

Reads GRIDGOV_JWT_SECRET and the services' ports (REGISTRY_HTTP_PORT, EVENTS_HTTP_PORT,
DISPATCH_HTTP_PORT; defaults 8001-8003) or ``--<service>-url``. SIGTERM or SIGINT stops it
after the step in hand; it prints what it did as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading

from tools.case_simulator.platform import Platform, PlatformError
from tools.case_simulator.scenario import Scenario
from tools.case_simulator.simulator import Simulator

DEFAULT_PORTS = {"registry": 8001, "events": 8002, "dispatch": 8003}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-minute", type=float,
                        default=float(os.environ.get("SIMULATE_CASES_PER_MINUTE", 6)),
                        help="cases reported a minute (0: only answer open cases)")
    parser.add_argument("--count", type=int, default=None, help="stop reporting after N")
    parser.add_argument("--seed", type=int, default=None, help="replayable run")
    parser.add_argument("--handle-after", type=float, default=20.0,
                        help="seconds before the community/town acts on a waiting case")
    parser.add_argument("--district", default="320505")
    for name, port in DEFAULT_PORTS.items():
        variable = f"{name.upper()}_HTTP_PORT"
        parser.add_argument(f"--{name}-url",
                            default=f"http://127.0.0.1:{os.environ.get(variable, port)}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    secret = os.environ.get("GRIDGOV_JWT_SECRET")
    if not secret:
        print("case_simulator: GRIDGOV_JWT_SECRET is not set (set -a; . ./.env)",
              file=sys.stderr)
        return 2
    platform = Platform({name: getattr(args, f"{name}_url") for name in DEFAULT_PORTS},
                        secret, args.district)
    simulator = Simulator(platform, Scenario(rng=random.Random(args.seed)),
                          handle_after=args.handle_after)
    try:
        grids = simulator.load_grids()
    except (PlatformError, OSError) as exc:
        print(f"case_simulator: cannot read the grids: {exc}", file=sys.stderr)
        return 1
    if not grids:
        print("case_simulator: the registry has no grids (make demo)", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("case_simulator").info(
        "%d grids, %.1f cases a minute", grids, args.per_minute)
    counts = simulator.run(args.per_minute, lambda: not stop.is_set(), count=args.count)
    print(json.dumps(dict(counts), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

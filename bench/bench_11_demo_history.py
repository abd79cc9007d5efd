"""The demo district's history loads in well under a minute (issue 11, M21; target 30 s).

Why: ``make up`` loads about six months of cases, patrols, meetings and spot checks on
first start (docs/DEMO.md); a slow load would keep a newcomer waiting at every fresh
install, on the 2-core development machines too.

How: a fresh ``gridgov_bench_demo_history`` database with every service's schema; each
service's loader as its own role, in the order of scripts/up.sh (events, dispatch,
assessment), each timed with the plan it builds; the counts each prints. ``--quick``
loads one town (a smaller district).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time  # noqa: E402
from datetime import date  # noqa: E402

from bench import _common  # noqa: E402
from gridgov_common.platform import db_roles  # noqa: E402
from gridgov_common.platform.db import make_engine, transaction  # noqa: E402
from services.assessment import demo_history as assessment_history  # noqa: E402
from services.dispatch import demo_history as dispatch_history  # noqa: E402
from services.events import demo_history as events_history  # noqa: E402
from tools import demo_history as plan  # noqa: E402

LOADERS = (("events", events_history), ("dispatch", dispatch_history),
           ("assessment", assessment_history))
TARGET_SECONDS = 30


def main(args) -> int:
    report = _common.Report("bench_11_demo_history: the demo district's six months")
    district = plan.demo_district(towns=1 if args.quick else 2)
    until = date.today()
    total = 0.0
    with _common.fresh_database("demo_history", ("events", "dispatch", "assessment")) as url:
        for service, module in LOADERS:
            engine = make_engine(db_roles.service_url(url, service, env={}))
            _common.progress(f"loading {service}'s history")
            started = time.monotonic()
            with transaction(engine) as session:
                summary = module.load(session, district, until=until)
            took = time.monotonic() - started
            engine.dispose()
            total += took
            counts = ", ".join(f"{k} {v:,}" for k, v in summary.items()
                               if isinstance(v, int) and not isinstance(v, bool))
            report.add(f"{service}: {counts}", took, "s")
    report.add("whole history", total, "s", at_most=TARGET_SECONDS)
    report.print()
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

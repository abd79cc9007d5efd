"""Prometheus metrics of case intake.

Labels are bounded sets: ``source`` (app, hotline, open311, department) × ``work_category``
(the eight of P5.2) — never a grid, a case number or a sending system's code.
"""

from prometheus_client import Counter

from gridgov_common.platform.metrics import PREFIX

CASES_REPORTED = Counter(
    f"{PREFIX}cases_reported", "Cases filed (P5.3.1), counted after commit",
    ["source", "work_category"],
)

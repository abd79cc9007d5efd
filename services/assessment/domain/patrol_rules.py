"""Patrol compliance judged per person and day (P5.4.3, P5.1.2), once the database has
counted the patrols and the seconds inside one's own grids (``compliance.patrol_day``)."""

from __future__ import annotations

from gridgov_common.kernel.roles import Role

MIN_INSIDE_SHARE = 1 / 3  # P5.4.3: time in the grid ≥ 1/3 of working time


def judge(row: dict, working: float, is_workday: bool, instructors: set[str],
          month_end: bool) -> dict:
    """The month rule fails only on the month's last day; before, it is just "not yet"."""
    share = min(1.0, row["inside_seconds"] / working) if working else None
    row.update(working_seconds=working, inside_share=share,
               patrolled=row["patrols"] >= 1)
    row["patrol_rule_met"] = row["patrolled"] or not is_workday  # P5.4.3 daily patrol
    row["inside_rule_met"] = share is None or share >= MIN_INSIDE_SHARE  # P5.4.3 ≥ 1/3
    row["instructor_month_patrolled"] = (row["staff_sub"] in instructors  # P5.1.2
                                         if row["role"] == Role.GRID_INSTRUCTOR else None)
    month_failed = month_end and row["instructor_month_patrolled"] is False
    row["compliant"] = row["patrol_rule_met"] and row["inside_rule_met"] and not month_failed
    return row

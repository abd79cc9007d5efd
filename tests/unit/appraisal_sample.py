"""The appraisal scheme the appraisal tests score with (tests/assessment/test_appraisal.py
computes its expected figures by hand from it; tests/unit/test_assessment_domain.py too)."""

from __future__ import annotations


def _ind(key, weight, zero_at, full_at):
    return {"key": key, "weight": weight, "zero_at": zero_at, "full_at": full_at}


AREA = [_ind("closure_rate", 0.3, 0.5, 1), _ind("on_time_closure_rate", 0.2, 0, 1),
        _ind("base_data_accuracy", 0.2, 0.5, 1), _ind("patrol_compliance", 0.1, 0, 1),
        _ind("meeting_compliance", 0.1, 0, 1), _ind("democratic_appraisal", 0.05, 0, 100),
        _ind("quantified_points", 0.05, 0, 100)]
SCHEME = {
    "kinds": {"town": AREA, "community": AREA, "grid_worker": AREA,
              "department": [_ind("on_time_handling_rate", 0.5, 0, 1),
                             _ind("ack_on_time_rate", 0.2, 0, 1),
                             _ind("democratic_appraisal", 0.3, 0, 100)]},
    "grades": [{"grade": "A", "min": 90, "max": 100}, {"grade": "B", "min": 75, "max": 90},
               {"grade": "C", "min": 60, "max": 75}, {"grade": "D", "min": 40, "max": 60},
               {"grade": "E", "min": 0, "max": 40}],
    "missing": "reweight", "min_coverage": 0.6, "flag_grades": ["D", "E"],
}

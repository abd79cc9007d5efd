"""The pure unit suite also passes with the district's local time zone as the machine's
(issue 17): CI machines run in UTC, district servers in Asia/Shanghai, and two calendar and
formatting mistakes could only be caught in the latter (a naive ``datetime.now()`` or
``date.today()`` reads the machine's zone)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_unit_suite_passes_in_asia_shanghai():
    env = {**os.environ, "TZ": "Asia/Shanghai"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout

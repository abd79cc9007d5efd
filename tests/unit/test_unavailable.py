"""What passes gets a 503 that says when to retry, never a 500 (issue 15.5)."""

from __future__ import annotations

import amqp.exceptions
import kombu.exceptions
import sqlalchemy.exc as sa_exc

from gridgov_common.kernel import errors
from gridgov_common.platform.web import _unavailable


def test_service_unavailable_says_when_to_retry():
    exc = errors.ServiceUnavailable("registry did not answer", code="registry_unavailable")
    assert (exc.status, exc.code) == (503, "registry_unavailable")
    assert exc.headers == {"Retry-After": str(errors.ServiceUnavailable.RETRY_AFTER_SECONDS)}
    assert errors.ServiceUnavailable("x", retry_after=3).headers == {"Retry-After": "3"}


def test_the_database_or_the_broker_down_is_a_503_and_a_bug_is_not():
    lost = sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    pool = sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached")
    for exc, code in ((lost, "database_unavailable"), (pool, "database_unavailable"),
                      (ConnectionRefusedError(111, "refused"), "broker_unavailable"),
                      (kombu.exceptions.OperationalError("no route"), "broker_unavailable"),
                      (amqp.exceptions.ConnectionForced("shutdown"), "broker_unavailable")):
        found = _unavailable(exc)
        assert found is not None and (found.status, found.code) == (503, code), exc
        assert int(found.headers["Retry-After"]) > 0
    for bug in (KeyError("x"), ValueError("y"), FileNotFoundError("z"),
                sa_exc.IntegrityError("INSERT", {}, Exception("duplicate"))):
        assert _unavailable(bug) is None, bug  # still a 500, logged with its trace

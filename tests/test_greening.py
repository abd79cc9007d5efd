"""psycopg's waits park the greenthread on the socket (gridgov_common/platform/greening.py),
against the real PostgreSQL: other greenthreads run meanwhile, large statements and
results still travel, a wait's timeout holds, and a dropped connection is an error."""

import eventlet
import psycopg
import psycopg.generators
import psycopg.waiting
import pytest
import sqlalchemy as sa

from gridgov_common.platform import greening


def _dsn(db_url: str) -> str:
    return sa.engine.make_url(db_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def test_every_wait_of_psycopg_goes_through_the_green_wait():
    assert psycopg.waiting.wait is greening.wait_green


def test_a_slow_statement_leaves_the_other_greenthreads_running(db_url):
    ticks = []

    def ticker():
        for _ in range(20):
            ticks.append(eventlet.hubs.get_hub().clock())
            eventlet.sleep(0.02)

    with psycopg.connect(_dsn(db_url), autocommit=True) as conn:
        beside = eventlet.spawn(ticker)
        conn.execute("SELECT pg_sleep(0.5)")
        assert len(ticks) >= 10, f"only {len(ticks)} ticks while the statement waited"
        beside.wait()


def test_four_connections_wait_together_not_one_after_another(db_url):
    def sleep_once(_):
        with psycopg.connect(_dsn(db_url), autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(0.5)")
        return True

    started = eventlet.hubs.get_hub().clock()
    assert list(eventlet.GreenPool().imap(sleep_once, range(4))) == [True] * 4
    elapsed = eventlet.hubs.get_hub().clock() - started
    assert elapsed < 1.5, f"4 concurrent pg_sleep(0.5) took {elapsed:.2f} s"


def test_a_statement_larger_than_the_socket_buffers_goes_and_comes_back(db_url):
    """A 20 MB parameter cannot be written at once: psycopg waits to write, or for either
    side, until it is all sent; the answer is as long again."""
    text = "网格" * 10_000_000
    with psycopg.connect(_dsn(db_url), autocommit=True) as conn:
        length, echoed = conn.execute("SELECT length(%s::text), %s::text",
                                      (text, text)).fetchone()
    assert length == len(text)
    assert echoed == text


def test_a_wait_that_outlasts_its_timeout_raises_psycopgs_timeout(db_url):
    with psycopg.connect(_dsn(db_url), autocommit=True) as conn:
        conn.pgconn.send_query(b"SELECT pg_sleep(2)")
        started = eventlet.hubs.get_hub().clock()
        with pytest.raises(psycopg.errors._WaitTimeout):
            greening.wait_green(psycopg.generators.fetch_many(conn.pgconn),
                                conn.pgconn.socket, timeout=0.2)
        assert eventlet.hubs.get_hub().clock() - started < 1.5
        conn.close()  # the statement is still running: the connection is of no more use


def test_a_connection_the_server_drops_fails_the_statement(db_url):
    with psycopg.connect(_dsn(db_url), autocommit=True) as victim, \
            psycopg.connect(_dsn(db_url), autocommit=True) as admin:
        pid = victim.info.backend_pid
        waiter = eventlet.spawn(victim.execute, "SELECT pg_sleep(5)")
        eventlet.sleep(0.2)
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            waiter.wait()

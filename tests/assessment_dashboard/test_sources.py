"""The dashboard's data-gathering modules: settings, the RabbitMQ management API (real
broker, the test's vhost), readiness probes (real services), the registry client (real
registry) and the section assembly."""

from __future__ import annotations

import time

import pika
import pytest
from marshmallow import ValidationError

from gridgov_common.kernel.errors import ServiceUnavailable
from services.assessment.dashboard import gather, health, rabbit
from services.assessment.dashboard.schemas import CaseStatisticsSchema
from services.assessment.dashboard.settings import (
    parse_service_urls,
    rabbit_api_url_from_amqp,
    settings_from_config,
    vhost_from_amqp,
)
from services.assessment.dashboard.sources import Sources, TtlCache
from tests.amqp import pika_params, publish
from tests.assessment_dashboard.conftest import DashboardTestService

# -- settings ------------------------------------------------------------------------------


def test_management_api_is_derived_from_the_amqp_uri():
    uri = "pyamqp://ops:s%40cret@rabbit.internal:5672/gridgov%2Fprod"
    assert rabbit_api_url_from_amqp(uri) == "http://ops:s%40cret@rabbit.internal:15672"
    assert vhost_from_amqp(uri) == "gridgov/prod"
    assert vhost_from_amqp("pyamqp://guest:guest@127.0.0.1:5672/") == "/"
    settings = settings_from_config({"AMQP_URI": "pyamqp://guest:guest@127.0.0.1:5672/"})
    assert settings.queues_url == "http://guest:guest@127.0.0.1:15672/api/queues/%2F"


def test_explicit_settings_win():
    settings = settings_from_config({
        "AMQP_URI": "pyamqp://a:b@h:5672/v", "RABBIT_API_URL": "https://mq.example/",
        "REGISTRY_URL": "http://registry:8001/", "DASHBOARD_TIMEOUT_SECONDS": "1.5",
        "SERVICE_URLS": "registry=http://registry:8001, events=http://events:8002/"})
    assert settings.queues_url == "https://mq.example/api/queues/v"
    assert settings.registry_url == "http://registry:8001" and settings.timeout == 1.5
    assert settings.service_urls == {"registry": "http://registry:8001",
                                     "events": "http://events:8002"}


@pytest.mark.parametrize("value", ["registry", "registry=ftp://x", "=http://x"])
def test_bad_service_urls_stop_the_service(value):
    with pytest.raises(RuntimeError, match="SERVICE_URLS"):
        parse_service_urls(value)


def test_a_bad_timeout_stops_the_service():
    with pytest.raises(RuntimeError, match="DASHBOARD_TIMEOUT_SECONDS"):
        settings_from_config({"DASHBOARD_TIMEOUT_SECONDS": "0"})


# -- queues --------------------------------------------------------------------------------


def test_summarise_pairs_each_queue_with_its_dead_letters():
    rows = rabbit.summarise([
        {"name": "dispatch.reports", "messages": 4, "messages_ready": 3,
         "messages_unacknowledged": 1, "consumers": 2},
        {"name": "dispatch.reports.dlq", "messages": 2, "consumers": 0},
        {"name": "notify.requests", "messages": 0, "consumers": 1},
        {"name": "orphan.dlq", "messages": 1},
        {"name": "rpc.reply-assessment-1234", "messages": 0},
    ])
    assert [(r["name"], r["messages"], r["dlq_messages"], r["alert"]) for r in rows] == [
        ("dispatch.reports", 4, 2, True), ("notify.requests", 0, None, False),
        ("orphan.dlq", 0, 1, True)]
    assert rows[0]["dlq"] == "dispatch.reports.dlq" and rows[0]["unacked"] == 1


def _declare(amqp_uri: str, *names: str) -> None:
    connection = pika.BlockingConnection(pika_params(amqp_uri))
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_declare(name, durable=True)
    finally:
        connection.close()


def test_queue_depths_come_from_the_management_api(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    _declare(uri, "town.work", "town.work.dlq")
    for _ in range(2):
        publish(uri, "", "town.work", {"n": 1})
    publish(uri, "", "town.work.dlq", {"refused": True})
    settings = settings_from_config(rabbit_config)
    deadline = time.monotonic() + 30
    row: dict = {}
    while time.monotonic() < deadline:  # the API samples queue lengths every few seconds
        rows = {r["name"]: r for r in rabbit.summarise(
            rabbit.fetch_queues(settings.queues_url, 5))}
        row = rows.get("town.work", {})
        if row.get("messages") == 2 and row.get("dlq_messages") == 1:
            break
        time.sleep(0.5)
    assert row == {"name": "town.work", "messages": 2, "ready": 2, "unacked": 0,
                   "consumers": 0, "dlq": "town.work.dlq", "dlq_messages": 1, "alert": True}


def test_wrong_management_credentials_raise(rabbit_config):
    settings = settings_from_config({**rabbit_config,
                                     "RABBIT_API_URL": "http://guest:wrong@127.0.0.1:15672"})
    with pytest.raises(Exception, match="401"):
        rabbit.fetch_queues(settings.queues_url, 5)


# -- health --------------------------------------------------------------------------------


def test_probes_tell_ready_from_unreachable(registry, registry_port, dead_url):
    rows = health.probe_all({"registry": f"http://127.0.0.1:{registry_port}",
                             "events": dead_url}, timeout=3)
    assert [(r["service"], r["status"]) for r in rows] == [
        ("events", "unreachable"), ("registry", "ready")]
    assert rows[1]["checks"] == {"database": "ok", "broker": "ok"}


def test_a_service_without_its_database_is_not_ready(container_factory, dashboard_config,
                                                     web_config_port):
    config = dashboard_config(
        DB_URL="postgresql+psycopg://postgres@127.0.0.1:5432/gridgov_no_such_database")
    container_factory(DashboardTestService, config).start()
    row = health.probe("assessment", f"http://127.0.0.1:{web_config_port}", timeout=5)
    assert row["status"] == "not_ready" and row["detail"] == "HTTP 503"
    assert row["checks"] == {"database": "down", "broker": "ok"}


# -- registry ------------------------------------------------------------------------------


def test_grids_and_departments_come_from_the_registry_and_are_kept(
        registry, registry_port, viewer, demo_district):
    settings = settings_from_config({"REGISTRY_URL": f"http://127.0.0.1:{registry_port}"})
    cache = TtlCache(60)
    sources = Sources(settings, cache)
    grids = sources.grids(viewer["Authorization"])
    assert [f["properties"]["grid_code"] for f in grids["features"]] == \
        demo_district["grid_codes"]
    assert grids["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    departments = {d["code"]: d for d in sources.departments(viewer["Authorization"])}
    assert departments["civil_affairs"] == {"code": "civil_affairs", "name_zh": "民政",
                                            "name_en": "Civil Affairs"}
    # kept: a second page load does not ask the registry (a bad token would be refused)
    assert sources.grids("Bearer not-a-token") is grids
    cache.entries = {}  # expired
    with pytest.raises(Exception, match="401"):
        sources.grids("Bearer not-a-token")


# -- assembly ------------------------------------------------------------------------------


def test_grids_are_cut_to_the_callers_district():
    collection = {"type": "FeatureCollection", "features": [
        {"properties": {"grid_code": "320505001001001"}},
        {"properties": {"grid_code": "110101001001001"}}]}
    kept = gather.in_scope(collection, "320505")
    assert [f["properties"]["grid_code"] for f in kept["features"]] == ["320505001001001"]


def test_towns_rank_by_closure_rate_with_empty_towns_last():
    towns = [{"town_code": "a", "total": 0, "closure_rate": None},
             {"town_code": "b", "total": 5, "closure_rate": 0.4},
             {"town_code": "c", "total": 9, "closure_rate": 0.4},
             {"town_code": "d", "total": 1, "closure_rate": 1.0}]
    assert [(t["rank"], t["town_code"]) for t in gather.rank_towns(towns)] == [
        (1, "d"), (2, "c"), (3, "b"), (4, "a")]


def test_one_failing_section_leaves_the_others():
    def down():
        raise ServiceUnavailable("dispatch is not running")

    document = gather.gather("district:320505", {"cases": down, "health": lambda: []})
    assert document["cases"] is None and document["health"] == []
    assert document["errors"] == {"cases": "dispatch is not running"}
    assert document["scope"] == "district:320505" and document["generated_at"]


def test_statistics_replies_are_checked():
    good = {"generated_at": "2026-11-29T01:00:00+00:00", "by_grid": [],
            "by_department": [{"department": "civil_affairs", "assigned": 1, "acked": 1,
                               "acked_on_time": 1, "overdue": 0, "closed": 0,
                               "closure_rate": 0.0}],
            "by_town": [], "recent": [], "escalations": []}
    assert CaseStatisticsSchema().load(good) == good
    with pytest.raises(ValidationError) as caught:
        CaseStatisticsSchema().load({**good, "by_department": [{"department": "x"}]})
    assert gather.describe(caught.value).startswith("unexpected reply:")

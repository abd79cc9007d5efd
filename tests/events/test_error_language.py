"""API errors in the caller's language on a real service (issue 11): the same 401, 404 and
422 in Chinese when the browser asks for it, as raised without the header; codes equal."""

from __future__ import annotations

from tests.events.conftest import case_body

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def test_errors_speak_the_language_the_request_asks_for(events, web_session, worker_a):
    body = {k: v for k, v in case_body().items() if k != "description"}
    english = web_session.post("/cases", json=body, headers=worker_a)
    chinese = web_session.post("/cases", json=body, headers={**worker_a, **ZH})
    assert english.status_code == chinese.status_code == 422
    en, zh = english.json()["error"], chinese.json()["error"]
    assert en["code"] == zh["code"] == "validation_failed" and "detail" not in en
    assert zh["message"] == "输入有误，请检查标出的字段" and zh["detail"] == en["message"]
    assert en["fields"]["description"] == ["Missing data for required field."]
    assert zh["fields"]["description"] == ["必填字段缺失。"]

    anonymous = web_session.get("/cases", headers=ZH)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"].startswith("未登录")
    missing = web_session.get("/cases/GS20260101-999999", headers={**worker_a, **ZH})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "找不到所请求的内容"
    no_route = web_session.get("/no/such/route", headers={**ZH})
    assert no_route.status_code == 404 and no_route.json()["error"]["code"] == "not_found"
    assert no_route.json()["error"]["message"] == "找不到所请求的内容"
    english_404 = web_session.get("/no/such/route", headers={"Accept-Language": "en"})
    assert english_404.json()["error"]["message"].startswith("no route")

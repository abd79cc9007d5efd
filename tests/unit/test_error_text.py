"""API errors in the caller's language (issue 11): codes never change; a request asking for
Chinese gets a Chinese message (the raised English beside it as ``detail``) and
marshmallow's standard field messages in Chinese; other text stays as raised."""

from __future__ import annotations

from gridgov_common.kernel import error_text


def test_only_a_request_that_asks_for_chinese_gets_it():
    assert error_text.wants_chinese("zh-CN,zh;q=0.9,en;q=0.8")
    assert error_text.wants_chinese("zh")
    assert not error_text.wants_chinese("en-GB,en;q=0.9")
    assert not error_text.wants_chinese(None) and not error_text.wants_chinese("")


def test_a_validation_error_in_chinese_keeps_its_code_and_its_english_detail():
    payload = {"error": {"code": "validation_failed", "message": "invalid input", "fields": {
        "grid_code": ["Missing data for required field."],
        "severity": ["Must be one of: minor, major, critical."],
        "description": ["Length must be between 1 and 4000."],
        "photos": {"0": ["Not a valid string."]},
        "geometry": ["the grid lies 5,000 m² outside community 320505001001"]}}}
    error = error_text.localize(payload, 422)["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "输入有误，请检查标出的字段" and error["detail"] == "invalid input"
    assert error["fields"]["grid_code"] == ["必填字段缺失。"]
    assert error["fields"]["severity"] == ["必须是以下之一：minor, major, critical。"]
    assert error["fields"]["description"] == ["长度须在 1 到 4000 之间。"]
    assert error["fields"]["photos"] == {"0": ["不是有效的文本。"]}
    # a domain rule's own text is not guessed at: it stays as raised
    assert error["fields"]["geometry"] == payload["error"]["fields"]["geometry"]


def test_unknown_codes_fall_back_on_the_status_and_other_shapes_pass_through():
    error = error_text.localize({"error": {"code": "grid_overlap", "message": "overlaps",
                                           "fields": {}}}, 409)["error"]
    assert (error["code"], error["message"]) == ("grid_overlap", "与当前状态冲突")
    assert error_text.localize({"error": {"code": "x", "message": "y"}}, 418)["error"][
        "message"] == "请求未能完成"
    assert error_text.localize([{"code": 400}], 400) == [{"code": 400}]
    for text, chinese in (("Shorter than minimum length 2.", "长度不能少于 2。"),
                          ("Longer than maximum length 60.", "长度不能超过 60。"),
                          ("Length must be 15.", "长度须为 15。"),
                          ("Must be greater than or equal to 1.", "不能小于 1。"),
                          ("Must be less than or equal to 9.", "不能大于 9。"),
                          ("Must be greater than or equal to 1 and less than or equal to 5.",
                           "须在 1 到 5 之间。")):
        assert error_text.field_message(text) == chinese


def test_the_master_data_forms_refusals_read_in_chinese():
    """The district admin's master-data page (issue 14) shows these beside their fields."""
    for text, chinese in (
            ("a telephone number", "不是有效的电话号码。"),
            ("already used", "已被使用（代码不能重复使用）。"),
            ("subcategory fire_hazard_corridor exists (codes are never reused)",
             "代码 fire_hazard_corridor 已被使用（代码不能重复使用）。"),
            ("x.y: water_board is not an active department of the register (P4.2)",
             "water_board 不是部门名册中的在用部门（P4.2）。"),
            ("other.bikes: bikes is not in the catalogue", "事项 bikes 不在事项目录中。"),
            ("rules a and b match exactly the same cases; which one applies would be "
             "arbitrary", "规则 a 与 b 适用的案件完全相同，无法确定适用哪一条。"),
            ("a dispatch rule names its lead department", "交办部门的规则须指定主办部门。"),
            ("bikes: livelihood_service cases are never public",
             "此类事项不向居民公开（P5.4.4），请取消“居民可报”。")):
        assert error_text.field_message(text) == chinese

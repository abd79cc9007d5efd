"""API error messages in the caller's language (issue 11: "API errors are English only").

A person's browser or app says ``Accept-Language: zh-CN`` (or ``en``); a machine usually
says nothing.  When a request asks for Chinese, an error's ``message`` is a Chinese
sentence chosen by its ``code`` (which never changes: programs branch on it), the English
text the code raised stays beside it as ``detail``, and marshmallow's standard field
messages ("Missing data for required field.") are given in Chinese.  Without the header, or
asking for English, the error is exactly as raised.
"""

from __future__ import annotations

import re
from typing import Any

from gridgov_common.kernel.languages import negotiate

BY_CODE = {
    "bad_request": "请求有误",
    "credential_in_url": "凭证不能放在网址中，请通过登录或 Authorization 请求头提供",
    "unauthorized": "未登录或登录已失效，请重新登录",
    "invalid_token": "登录凭证无效，请重新登录",
    "token_expired": "登录已过期，请重新登录",
    "sign_in_failed": "账号或密码错误，或失败次数过多已暂时锁定，请稍后再试",
    "password_change_required": "请先修改密码再登录",
    "no_session": "未登录，请重新登录",
    "session_ended": "登录已结束，请重新登录",
    "csrf_failed": "页面已过期或请求来源不明，请刷新页面后重试",
    "reset_not_allowed": "只有上级管理员可以重置该人员的密码",
    "code_expired": "验证码已过期或已失效，请重新登录",
    "second_factor_unavailable": "该岗位登录需要短信验证码，但尚未登记登录手机号，请联系运维人员",
    "sms_unavailable": "验证码短信发送失败，请稍后再试",
    "notify_unavailable": "通知服务暂不可用，请稍后再试",
    "forbidden": "无权进行此操作",
    "out_of_scope": "超出您的管辖范围",
    "not_found": "找不到所请求的内容",
    "method_not_allowed": "不支持此请求方法",
    "conflict": "与当前状态冲突，请刷新后重试",
    "payload_too_large": "提交的内容过大",
    "unsupported_media_type": "不支持的内容类型",
    "validation_failed": "输入有误，请检查标出的字段",
    "rate_limited": "请求过于频繁，请稍后再试",
    "upstream_error": "相关服务出错，请稍后再试",
    "service_unavailable": "服务暂时不可用，请稍后再试",
    "database_unavailable": "数据库暂时不可用，请稍后再试",
    "broker_unavailable": "消息服务暂时不可用，请稍后再试",
    "registry_unavailable": "基础信息服务暂时不可用，请稍后再试",
    "internal_error": "系统内部错误",
}
BY_STATUS = {400: "请求有误", 401: "未登录或登录已失效", 403: "无权进行此操作",
             404: "找不到所请求的内容", 409: "与当前状态冲突", 422: "输入有误，请检查标出的字段",
             429: "请求过于频繁，请稍后再试", 502: "相关服务出错", 503: "服务暂时不可用"}

# marshmallow's own messages (4.x), word for word, and its templated ones as patterns
FIELD_TEXT = {
    "Missing data for required field.": "必填字段缺失。",
    "Unknown field.": "未知字段。",
    "Field may not be null.": "不能为空。",
    "Invalid input type.": "输入类型无效。",
    "Not a valid string.": "不是有效的文本。",
    "Not a valid integer.": "不是有效的整数。",
    "Not a valid number.": "不是有效的数字。",
    "Not a valid boolean.": "不是有效的布尔值。",
    "Not a valid date.": "不是有效的日期。",
    "Not a valid datetime.": "不是有效的日期时间。",
    "Not a valid email address.": "不是有效的电子邮件地址。",
    "Not a valid URL.": "不是有效的网址。",
    "Not a valid UUID.": "不是有效的 UUID。",
    "Not a valid list.": "不是有效的列表。",
    "Not a valid mapping type.": "不是有效的对象。",
    "String does not match expected pattern.": "格式不符。",
    "Not a snake_case code.": "不是有效的代码（小写字母、数字和下划线）。",
    "Invalid value.": "取值无效。",
    # password policy (services/registry/accounts.py)
    "At least 10 characters.": "至少 10 个字符。",
    "At most 128 characters.": "最多 128 个字符。",
    "Mix at least two kinds of characters (lower case, upper case, digits, others).":
        "至少包含两类字符（小写字母、大写字母、数字、其他符号）。",
    "Must not contain the login.": "不能包含登录名。",
    "Must differ from the current password.": "不能与当前密码相同。",
    # the district's master data (issue 14: the master-data page shows these by the field)
    "a telephone number": "不是有效的电话号码。",
    "already used": "已被使用（代码不能重复使用）。",
    "a work category is listed twice": "工作类别重复。",
    "must be more than zero": "须大于 0。",
    "a dispatch rule names its lead department": "交办部门的规则须指定主办部门。",
    "the lead department cannot also assist": "主办部门不能同时作为协办部门。",
    "assisting departments are listed twice": "协办部门重复。",
    "a local rule names no departments": "本级处置的规则不指定部门。",
    "a specific subcategory needs a specific work_category": "指定事项时须同时指定其工作类别。",
    "a catch-all rule (work_category, subcategory and severity '*', no town_prefix) is "
    "mandatory": "必须保留一条兜底规则（全部类别、全部事项、各等级、全区）。",
    "the department register has not reached dispatch yet (the registry announces it at "
    "start); try again in a minute": "部门名册尚未同步到分拨服务，请一分钟后再试。",
    "the subcategory catalogue has not reached dispatch yet (events announces it at start); "
    "try again in a minute": "事项目录尚未同步到分拨服务，请一分钟后再试。",
}
FIELD_PATTERNS = (
    (re.compile(r"^Must be one of: (.*)\.$"), "必须是以下之一：{0}。"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "长度须在 {0} 到 {1} 之间。"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "长度不能少于 {0}。"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "长度不能超过 {0}。"),
    (re.compile(r"^Length must be (\d+)\.$"), "长度须为 {0}。"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
     "须在 {0} 到 {1} 之间。"),
    # the master data's own rules (events' catalogue, dispatch's master_data and rule sets)
    (re.compile(r"^subcategory (\S+) exists \(codes are never reused\)$"),
     "代码 {0} 已被使用（代码不能重复使用）。"),
    (re.compile(r"^\S+: \S+ cases are never public$"),
     "此类事项不向居民公开（P5.4.4），请取消“居民可报”。"),
    (re.compile(r"^\S+: a sensitive subcategory is never public$"),
     "敏感事项不向居民公开（P5.2.5），请取消“居民可报”。"),
    (re.compile(r"^\S+: special-group assistance reveals a special group \(P5\.2\.5\): "
                r"mark it sensitive$"), "特殊人群帮教事项涉及特殊人群（P5.2.5），须设为敏感。"),
    (re.compile(r"^\S+ stays sensitive: its cases reveal special-group membership$"),
     "敏感事项不能取消敏感（其案件涉及特殊人群，P5.2.5）。"),
    (re.compile(r"^every P5\.2 work category needs a subcategory in use; none for .*$"),
     "每个工作类别至少要保留一个在用事项（P5.2）。"),
    (re.compile(r"^\S+: (\S+) is not an active department of the register \(P4\.2\)$"),
     "{0} 不是部门名册中的在用部门（P4.2）。"),
    (re.compile(r"^\S+: (\S+) is not in the catalogue$"), "事项 {0} 不在事项目录中。"),
    (re.compile(r"^\S+: (\S+) belongs to (\S+), not (\S+)$"), "事项 {0} 属于 {1}，不属于 {2}。"),
    (re.compile(r"^rules (\S+) and (\S+) match exactly the same cases; which one applies "
                r"would be arbitrary$"),
     "规则 {0} 与 {1} 适用的案件完全相同，无法确定适用哪一条。"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "不能小于 {0}。"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), "不能大于 {0}。"),
)


def wants_chinese(accept_language: str | None) -> bool:
    """Only a request that names a language gets a translated error (see module doc)."""
    return bool(accept_language) and negotiate(accept_language) == "zh-CN"


def localize(payload: dict[str, Any], status: int) -> dict[str, Any]:
    """The error ``payload`` ({"error": {code, message, fields}}) in Chinese."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return payload
    code = str(error.get("code", ""))
    chinese = BY_CODE.get(code) or BY_STATUS.get(status) or "请求未能完成"
    translated = {**error, "message": chinese, "fields": _fields(error.get("fields"))}
    if error.get("message") and error["message"] != chinese:
        translated["detail"] = error["message"]
    return {**payload, "error": translated}


def _fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fields(item) for item in value]
    if isinstance(value, str):
        return field_message(value)
    return value


def field_message(text: str) -> str:
    """A marshmallow message in Chinese, and the master data's rules named above (issue 14:
    the district admin's forms); any other text (a domain rule's) unchanged."""
    if text in FIELD_TEXT:
        return FIELD_TEXT[text]
    for pattern, template in FIELD_PATTERNS:
        match = pattern.match(text)
        if match:
            return template.format(*match.groups())
    return text

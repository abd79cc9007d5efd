"""The registry's sign-in codes by SMS (issue 12): an administrator's second factor.

Sent at once through the same SMS gateway channel as every other SMS
(``channels.SMS_GATEWAYS``), and not through the deliveries table: a one-time code must
not be stored, retried minutes later when it has expired, or shown to operators among the
dead letters. The caller (the registry, over RPC) is told whether the gateway accepted it
and answers the person; nothing here logs the code or the number.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from services.notify import channels

log = logging.getLogger(__name__)

TEXTS = {  # zh-CN first; the gateway adds the signature (SMS_SIGN)
    "zh-CN": ("登录验证码", "您的网格治理平台登录验证码为 {code}，请在登录页面输入。"
                            "请勿告诉他人，工作人员不会向您索取。"),
    "en": ("Sign-in code", "Your gridgov sign-in code is {code}. Type it on the sign-in "
                           "page; never tell it to anyone, staff never ask for it."),
}


def text(code: str, language: str) -> tuple[str, str]:
    title, body = TEXTS.get(language, TEXTS["zh-CN"])
    return title, body.format(code=code)


def send(sms: Any, phone: str, code: str, language: str) -> dict[str, Any]:
    """``{"sent": true, "ref": …}`` when the gateway accepted the message, else
    ``{"sent": false, "ref": …, "error": …}``."""
    title, body = text(code, language)
    ref = secrets.randbits(52)  # the gateway's reference; no delivery row is kept
    message = channels.Outgoing(delivery_id=ref, address=phone, secret=None, title=title,
                                body=body, document={})
    try:
        sms.send(message)
    except channels.SendFailed as exc:
        log.warning("sign-in code %s not accepted by the SMS gateway: %s", ref, exc)
        return {"sent": False, "ref": str(ref), "error": str(exc)[:channels.ERROR_TEXT_MAX]}
    return {"sent": True, "ref": str(ref)}

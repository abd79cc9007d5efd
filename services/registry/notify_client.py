"""What the registry asks notify, through ONE proxy (issue 13's rule): the SMS code of an
administrator's sign-in (issue 12). Checked against the RPC contract by ``TimedClient``."""

from __future__ import annotations

from nameko.exceptions import RemoteError

from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedClient, TimedRpcProxy
from services.registry.settings import NOTIFY_RPC_TIMEOUT_SECONDS

NOT_SENT = "sms_unavailable"


class NotifyClient:
    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def send_sign_in_code(self, phone: str, code: str, language: str) -> str:
        """The gateway's reference once the SMS gateway accepted the code; else 503
        ``sms_unavailable`` (``notify_unavailable`` when notify does not answer)."""
        try:
            reply = self.rpc.call("send_sign_in_code", phone, code, language)
        except RemoteError as exc:
            raise ServiceUnavailable(f"notify could not send the sign-in code: {exc.exc_type}",
                                     code=NOT_SENT) from None
        if not reply["sent"]:
            raise ServiceUnavailable("the SMS gateway did not accept the sign-in code; try "
                                     "again later", code=NOT_SENT)
        return reply["ref"]


class Notify(TimedRpcProxy):
    """``RpcProxy("notify")`` with a time limit, injecting a :class:`NotifyClient`."""

    def __init__(self) -> None:
        super().__init__("notify", NOTIFY_RPC_TIMEOUT_SECONDS,
                         NotifyClient)

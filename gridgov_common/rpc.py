"""RPC entrypoint that commits the worker's transaction before the reply is sent.

Stock nameko sends the reply in ``handle_result``, before dependencies' ``worker_result``
(where a session would commit): a caller could be told "done" for a write that then
fails to commit.  Validation errors (marshmallow ``ValidationError``) and
``gridgov_common.errors.ApiError`` reach callers as ``RemoteError`` with their type name.
"""

from __future__ import annotations

from marshmallow import ValidationError
from nameko.rpc import Rpc as NamekoRpc

from gridgov_common.db import finish_worker_transactions
from gridgov_common.errors import ApiError


class Rpc(NamekoRpc):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("expected_exceptions", (ValidationError, ApiError))
        super().__init__(**kwargs)

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is None:
            failure = finish_worker_transactions(worker_ctx)
            if failure is not None:
                exc_info = (type(failure), failure, failure.__traceback__)
                result = None
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = Rpc.decorator

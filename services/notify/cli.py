"""Notify command line: key and secret rotation (issue 5; deploy/README.md "Rotating keys").

``python -m services.notify.cli rekey-pii [--batch N] [--status]``
    re-encrypt subscription addresses and webhook secrets under the current PII key;
``python -m services.notify.cli rotate-secret <subscription id> [--overlap-hours H]``
    a webhook's new signing secret, printed once; the previous one keeps signing beside it
    for H hours (the same as ``POST /subscriptions/<id>/secret``).

Keys and the database come from the environment (``GRIDGOV_NOTIFY_DB_URL``, notify's own
role, else ``GRIDGOV_DB_URL``; ``GRIDGOV_PII_KEY``,
``GRIDGOV_PII_INDEX_KEY``, ``GRIDGOV_PII_KEY_VERSION``, ``GRIDGOV_PII_OLD_KEYS``), as for the
service.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta

from gridgov_common.kernel import pii
from gridgov_common.kernel.errors import NotFound, Unprocessable
from gridgov_common.platform import rekey
from gridgov_common.platform.db import make_engine, transaction
from gridgov_common.platform.migrate import DEFAULT_URL
from services.notify import contacts
from services.notify.models import subscriptions

# P5.4.4: every encrypted column of notify; the address's field depends on its channel
PII_TARGETS = [rekey.Target(subscriptions, "subscription_id", (
    rekey.Encrypted("address_enc", lambda row: contacts.FIELDS[row.channel]),
    rekey.Encrypted("secret_enc", contacts.SECRET_FIELD),
    rekey.Encrypted("previous_secret_enc", contacts.SECRET_FIELD)), needs=("channel",))]
DEFAULT_OVERLAP_HOURS = 24.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notify.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rekey.add_parser(sub)
    rotate = sub.add_parser("rotate-secret", help="new signing secret for a webhook")
    rotate.add_argument("subscription_id", type=int)
    rotate.add_argument("--overlap-hours", type=float, default=float(os.environ.get(
        "NOTIFY_WEBHOOK_SECRET_OVERLAP_HOURS", DEFAULT_OVERLAP_HOURS)),
        help="hours the previous secret keeps signing (default 24; 0: stop at once)")
    rotate.add_argument("--secret-env", metavar="VAR",
                        help="take the new secret from this variable (else one is generated)")
    args = parser.parse_args(argv)
    engine = make_engine(  # its own role where make up / compose give it
        os.environ.get("GRIDGOV_NOTIFY_DB_URL") or os.environ.get("GRIDGOV_DB_URL", DEFAULT_URL))
    try:
        cipher = pii.cipher_from_settings(os.environ, prefix="GRIDGOV_")
        if args.cmd == "rekey-pii":
            return rekey.run(engine, cipher, PII_TARGETS, args.batch, args.status)
        if args.overlap_hours < 0:
            raise ValueError("--overlap-hours must not be negative")
        secret = os.environ.get(args.secret_env, "") if args.secret_env else None
        if args.secret_env and not secret:
            raise ValueError(f"environment variable {args.secret_env} is empty or unset")
        with transaction(engine) as session:
            result = contacts.rotate_secret(session, cipher, args.subscription_id,
                                            timedelta(hours=args.overlap_hours), secret)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    except (NotFound, Unprocessable) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

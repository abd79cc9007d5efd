"""``python -m tools.openapi`` rewrites docs/openapi/<service>.json from the services' code.

The document itself is built by :mod:`gridgov_common.platform.openapi` (each running
service also serves it at /openapi.json); this generator is the one place that knows the
five services, so the shared code never imports a service. tests/unit/test_openapi_docs.py
holds the committed files to what it writes.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from gridgov_common.platform.openapi import document_for

SERVICES = {"registry": "RegistryService", "events": "EventsService",
            "dispatch": "DispatchService", "assessment": "AssessmentService",
            "notify": "NotifyService"}
OUT = Path(__file__).resolve().parent.parent / "docs" / "openapi"


def service_document(name: str) -> dict[str, Any]:
    """The OpenAPI document of one of the five services, from its class."""
    module = importlib.import_module(f"services.{name}.service")
    return document_for(getattr(module, SERVICES[name]))


def main(argv: list[str] | None = None) -> int:
    """Write every service's document, sorted so that a regeneration diffs cleanly."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        (OUT / f"{name}.json").write_text(json.dumps(
            service_document(name), ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        print(f"docs/openapi/{name}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The committed API docs (docs/openapi/*.json) are the ones the code generates."""

import json
from pathlib import Path

import pytest

from tools.openapi import SERVICES, service_document

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_committed_openapi_matches_code(service):
    generated = service_document(service)
    committed = json.loads((DOCS / f"{service}.json").read_text())
    assert committed == json.loads(json.dumps(generated)), (
        f"docs/openapi/{service}.json is stale: run python -m tools.openapi")


def test_every_protected_operation_documents_roles_and_errors():
    for service in SERVICES:
        doc = json.loads((DOCS / f"{service}.json").read_text())
        for path, operations in doc["paths"].items():
            for method, op in operations.items():
                assert "default" in op["responses"], (path, method)
                if op.get("security"):
                    assert op["x-roles"], (path, method)
                    assert {"401", "403"} <= set(op["responses"]), (path, method)


def test_component_names_for_schema_classes_and_instances():
    """apispec names a ``fields.Nested(SomeSchema(...))`` by its instance."""
    from marshmallow import Schema

    from gridgov_common.platform.openapi import _schema_name

    class CaseSummarySchema(Schema):
        pass

    assert _schema_name(CaseSummarySchema) == "CaseSummary"
    assert _schema_name(CaseSummarySchema(only=())) == "CaseSummary"

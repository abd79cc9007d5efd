"""Assessment's entrypoints are grouped by area (issue 13): the service class in
``services/assessment/service.py`` composes one group per area (field work, circulars,
appraisal, dashboard, wall, workbench pages, registry consumers), each a plain class with
entrypoints only. A group reaches its dependencies and helpers through ``self``; this test
holds every name a group uses to something the composed service really has, so a group
cannot depend on a dependency that only another service or a test declares."""

from __future__ import annotations

import ast
import inspect

import pytest

from services.assessment.service import AssessmentService

GROUPS = [cls for cls in AssessmentService.__mro__[1:]
          if cls.__module__.startswith("services.assessment.")]


def self_attributes(cls: type) -> set[str]:
    """Every ``self.<name>`` read in the class's own source."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "self"}


def test_the_service_composes_every_area():
    assert {cls.__name__ for cls in GROUPS} == {
        "DashboardRoutes", "FieldWorkRoutes", "CircularRoutes", "RegistryConsumers",
        "AppraisalRoutes", "AppRoutes", "DeskRoutes", "WallRoutes"}


@pytest.mark.parametrize("group", GROUPS, ids=lambda cls: cls.__name__)
def test_every_name_a_group_uses_is_on_the_service(group):
    missing = sorted(name for name in self_attributes(group)
                     if not hasattr(AssessmentService, name))
    assert missing == [], f"{group.__name__} uses self.{missing} the service does not have"


@pytest.mark.parametrize("group", GROUPS, ids=lambda cls: cls.__name__)
def test_a_group_holds_no_dependency_of_its_own(group):
    """Dependencies are declared once, on the service, where a reader sees them all."""
    from nameko.extensions import DependencyProvider

    own = [name for name, value in vars(group).items() if isinstance(value, DependencyProvider)]
    assert own == []

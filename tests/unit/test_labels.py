"""Every fixed code a person may read has a name in zh-CN and en (issue 11)."""

from __future__ import annotations

import pytest

from gridgov_common.contract import InfoClass, Severity, WorkCategory, labels
from gridgov_common.contract.cases import AssignmentRole, Card, EscalationKind, Source
from gridgov_common.contract.notify import Channel, NotifyKind
from gridgov_common.contract.routing import Priority
from gridgov_common.kernel.roles import Role
from services.dispatch.domain.states import AssignmentState, CaseState, HandlingLevel
from services.registry.domain.staff import Action as StaffAction
from services.registry.domain.staff import State as StaffState

ENUMS = {"work_category": WorkCategory, "info_class": InfoClass, "severity": Severity,
         "priority": Priority, "source": Source, "assignment_role": AssignmentRole,
         "card": Card, "role": Role, "escalation_kind": EscalationKind,
         "notify_kind": NotifyKind, "channel": Channel, "case_state": CaseState,
         "handling_level": HandlingLevel, "assignment_state": AssignmentState,
         "staff_state": StaffState, "staff_action": StaffAction}


@pytest.mark.parametrize("table", sorted(ENUMS))
def test_every_member_is_named_in_both_languages(table):
    for member in ENUMS[table]:
        zh, en = labels.label(table, member, "zh-CN"), labels.label(table, member, "en")
        assert zh and en and zh != member.value and en != member.value, (table, member)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (table, zh)
        assert en.isascii() and en[0].isupper(), (table, en)


def test_names_of_a_few_codes():
    assert labels.label("work_category", "public_security_prevention") == "社会治安防控"
    assert labels.label("work_category", "public_security_prevention", "en") == \
        "Public-security prevention"
    assert labels.label("handling_level", "town") == "镇（街道）"
    assert labels.label("role", Role.COMMUNITY_GRID_CHIEF, "en") == "Community grid chief"


def test_an_unknown_code_is_shown_as_itself_and_none_as_nothing():
    assert labels.label("severity", "catastrophic") == "catastrophic"
    assert labels.label("severity", None) == ""
    with pytest.raises(KeyError):
        labels.label("no_such_table", "x")

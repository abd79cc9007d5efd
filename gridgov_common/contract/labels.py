"""The names people read for the platform's fixed codes, in zh-CN and en: one table per
code list, owned here so that the case file, notifications and pages say the same words.

Codes travel on the bus and in the API; a page or message shows the name (issue: people
read names, not codes).  Codes a district adds as data (subcategories, departments, places)
are named by their registers, not here.  ``label`` falls back to the code itself, so a code
added to an enum before its name shows up as a code, never as nothing; a unit test holds
every enum member to a name in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping

from gridgov_common.contract import InfoClass, Severity, WorkCategory
from gridgov_common.contract.cases import AssignmentRole, Card, Source
from gridgov_common.contract.notify import Channel, NotifyKind
from gridgov_common.contract.routing import Priority
from gridgov_common.kernel.roles import Role

LANGUAGES = ("zh-CN", "en")

_Table = Mapping[str, tuple[str, str]]  # code -> (zh-CN, en)

# P5.2: the eight work categories, in the policy's words
WORK_CATEGORY: _Table = {
    WorkCategory.LIVELIHOOD_SERVICE: ("民生服务", "Livelihood services"),
    WorkCategory.PUBLIC_OPINION: ("社情民意", "Public opinion"),
    WorkCategory.DISPUTE_MEDIATION: ("矛盾纠纷调处", "Dispute mediation"),
    WorkCategory.PUBLIC_SECURITY_PREVENTION: ("社会治安防控", "Public-security prevention"),
    WorkCategory.SPECIAL_GROUP_ASSISTANCE: ("特殊人群帮教", "Special-group assistance"),
    WorkCategory.POLICY_PUBLICITY: ("政策法律宣传", "Policy and law publicity"),
    WorkCategory.MAJOR_EVENT: ("重大事件报告", "Major-event report"),
    WorkCategory.OTHER: ("其他交办事项", "Other tasks"),
}

# P5.4.4: the eight information classes of "one grid, one ledger"
INFO_CLASS: _Table = {
    InfoClass.PARTY_MASS_ORGANISATIONS: ("党群组织", "Party and mass organisations"),
    InfoClass.ECONOMY_FINANCE: ("经济财政", "Economy and finance"),
    InfoClass.STABILITY_GOVERNANCE: ("综治维稳", "Stability and governance"),
    InfoClass.SOCIAL_AFFAIRS: ("社会事务", "Social affairs"),
    InfoClass.POPULATION_FAMILY_PLANNING: ("人口计生", "Population and family planning"),
    InfoClass.LABOUR_SOCIAL_SECURITY: ("劳动保障", "Labour and social security"),
    InfoClass.URBAN_MANAGEMENT: ("城市管理", "Urban management"),
    InfoClass.CULTURE_EDUCATION_SPORT: ("文教体育", "Culture, education and sport"),
}

SEVERITY: _Table = {
    Severity.MINOR: ("一般", "Minor"),
    Severity.MAJOR: ("重大", "Major"),
    Severity.CRITICAL: ("特别重大", "Critical"),
}

PRIORITY: _Table = {  # P2.1 rapid response
    Priority.NORMAL: ("普通", "Normal"),
    Priority.URGENT: ("紧急", "Urgent"),
    Priority.MAJOR: ("特急", "Major"),
}

SOURCE: _Table = {
    Source.APP: ("网格员上报", "Reported by a grid worker"),
    Source.HOTLINE: ("热线转办", "Citizen hotline"),
    Source.OPEN311: ("群众网上反映", "Reported online by a resident"),
    Source.DEPARTMENT: ("部门推送", "Sent by a department"),
}

ASSIGNMENT_ROLE: _Table = {
    AssignmentRole.LEAD: ("主办", "Lead"),
    AssignmentRole.ASSIST: ("协办", "Assisting"),
}

# P2.2/P5.3.3: a department's work order, as its workbench shows it
ASSIGNMENT_STATE: _Table = {
    "sent": ("待签收", "Awaiting sign-for"),
    "acked": ("已签收，办理中", "Signed for, in hand"),
    "reported": ("已反馈结果", "Result reported"),
    "returned": ("已退回", "Returned"),
    "withdrawn": ("已撤回", "Withdrawn"),
}

# P5.1.5/P5.4.1: a grid worker's way from recruitment to filing, and adjustment
STAFF_STATE: _Table = {
    "recruited": ("已招录，待审核", "Recruited, awaiting review"),
    "reviewed": ("已审核，待聘用", "Reviewed, awaiting hiring"),
    "hired": ("已聘用，待备案", "Hired, awaiting filing"),
    "filed": ("已备案", "Filed with the bureau"),
    "adjustment_proposed": ("已提出调整", "Adjustment proposed"),
    "dismissed": ("已调整（解聘）", "Dismissed"),
    "rejected": ("未录用", "Not taken on"),
    "active": ("在岗", "In post"),
}
STAFF_ACTION: _Table = {
    "review": ("审核通过", "Pass review"),
    "reject": ("不予录用", "Turn down"),
    "hire": ("聘用", "Hire"),
    "file": ("备案", "File"),
    "propose_adjustment": ("提出调整", "Propose adjustment"),
    "approve_adjustment": ("同意调整", "Approve adjustment"),
    "reject_adjustment": ("不同意调整", "Refuse adjustment"),
}

CARD: _Table = {  # P6.2 督办
    Card.ORDINARY: ("督办单", "Supervision notice"),
    Card.YELLOW: ("黄牌督办", "Yellow card"),
    Card.RED: ("红牌督办", "Red card"),
}

ROLE: _Table = {  # P5.0 and the platform's own roles
    Role.TOWN_GRID_CHIEF: ("镇网格长", "Town grid chief"),
    Role.GRID_INSTRUCTOR: ("网格指导员", "Grid instructor"),
    Role.COMMUNITY_GRID_CHIEF: ("社区网格长", "Community grid chief"),
    Role.COMMUNITY_GRID_WORKER: ("社区网格员", "Community grid worker"),
    Role.NEIGHBOURHOOD_GRID_WORKER: ("小区网格员", "Neighbourhood grid worker"),
    Role.DEPARTMENT_OFFICER: ("部门工作人员", "Department officer"),
    Role.DISTRICT_ADMIN: ("网格化服务管理中心", "Grid management centre"),
    Role.OPS_VIEWER: ("运行中心值班员", "Operations viewer"),
}

# P5.3: where a case stands (services/dispatch/domain/states.py)
CASE_STATE: _Table = {
    "filed": ("已立案", "Filed"),
    "handling_local": ("本级办理中", "Handled locally"),
    "dispatched": ("已派遣", "Dispatched"),
    "in_progress": ("办理中", "In progress"),
    "resolved": ("已办结待回访", "Resolved, awaiting return visit"),
    "closed": ("已结案", "Closed"),
    "suspended": ("挂账", "Suspended"),
    "cancelled": ("已注销", "Cancelled"),
    "merged": ("已并案，随原案办理", "Merged, handled with the original case"),  # P5.3.1
}

# P4.2: the ten units brought into grid management (a department's ``unit``)
DEPARTMENT_UNIT: _Table = {
    "organization": ("组织部门", "Organization"),
    "comprehensive_governance": ("综治（政法）部门", "Comprehensive governance (political-legal)"),
    "civil_affairs": ("民政部门", "Civil affairs"),
    "public_security": ("公安部门", "Public security"),
    "human_resources": ("人力资源和社会保障部门", "Human resources and social security"),
    "health": ("卫生健康部门", "Health"),
    "ecology_environment": ("生态环境部门", "Ecology and environment"),
    "emergency_management": ("应急管理部门", "Emergency management"),
    "veterans_affairs": ("退役军人事务部门", "Veterans affairs"),
    "fire": ("消防救援部门", "Fire and rescue"),
}

# P5.3.2: the level a case is handled at
HANDLING_LEVEL: _Table = {
    "grid": ("网格", "Grid"),
    "community": ("社区", "Community"),
    "town": ("镇（街道）", "Town"),
    "district": ("区", "District"),
}

# P6.2: why a case was escalated
ESCALATION_KIND: _Table = {
    "ack_timeout": ("超时未签收", "Not reported in on time"),
    "overdue": ("超期未办结", "Overdue"),
    "unroutable": ("无法送达部门", "No department queue"),
    "manual": ("人工督办", "Issued by hand"),
}

NOTIFY_KIND: _Table = {
    NotifyKind.ASSIGNMENT: ("派遣通知", "Assignment notice"),
    NotifyKind.ESCALATION: ("督办通知", "Escalation notice"),
    NotifyKind.DEADLINE_REMINDER: ("时限提醒", "Deadline reminder"),
    NotifyKind.MAJOR_EVENT: ("重大事件报告", "Major-event alert"),
    NotifyKind.RETURN_VISIT: ("回访提醒", "Return-visit reminder"),
    NotifyKind.MEETING_REMINDER: ("会议提醒", "Meeting reminder"),
    NotifyKind.CIRCULAR: ("通报", "Circular"),
    NotifyKind.DAILY_DIGEST: ("每日汇总", "Daily digest"),
}

CHANNEL: _Table = {
    Channel.INBOX: ("工作台消息", "App inbox"),
    Channel.WEBHOOK: ("部门系统", "Department system"),
    Channel.EMAIL: ("电子邮件", "E-mail"),
    Channel.SMS: ("短信", "Text message"),
    "amqp": ("部门消息队列", "Department queue"),
}

# P5.3.4: what each entry of the electronic case file says happened (uReport's history
# vocabulary); the case file page and the app's timeline read it
CASE_ACTION: _Table = {
    "filed": ("立案", "Filed"),
    "triage_local": ("本级办理", "Handled at own level"),
    "dispatch": ("派遣（吹哨）", "Dispatched to departments"),
    "report_up": ("上报", "Reported up"),
    "assign_down": ("交办下级", "Assigned down"),
    "cancel": ("注销", "Cancelled"),
    "close_on_spot": ("自办自结", "Handled on the spot"),
    "ack": ("部门签收（报到）", "Department reported in"),
    "assist_ack": ("协办部门签收", "Assisting department reported in"),
    "progress": ("进展", "Progress reported"),
    "department_return": ("退办", "Returned by department"),
    "assist_return": ("协办部门退回", "Returned by assisting department"),
    "local_result": ("本级办结", "Result of local handling"),
    "department_result": ("部门办结", "Departments' result"),
    "result_reported": ("部门报告结果", "Department reported a result"),
    "return_visit_satisfied": ("回访满意，结案", "Return visit: satisfied, closed"),
    "return_visit_unsatisfied": ("回访不满意，返工", "Return visit: rework"),
    "suspend": ("挂账", "Suspended"),
    "resume": ("恢复办理", "Resumed"),
    "delay_requested": ("申请延时", "Delay requested"),
    "delay_granted": ("同意延时", "Delay granted"),
    "delay_refused": ("不同意延时", "Delay refused"),
    "report_refused": ("部门报告被拒收", "Department report refused"),
    "escalated": ("督办", "Escalated"),
    "escalation": ("督办", "Escalated"),
    "notification_sent": ("已发送通知", "Notification sent"),
    "note": ("备注", "Note"),
    # P5.3.1/P5.3.3: a confirmed duplicate joins its original's flow and ends with it; the
    # original's number follows the label (``data.original_case_number``)
    "merged_into": ("并案", "Merged into case"),
    "merge_undone": ("撤销并案，恢复办理", "Merge undone, back to its own handling"),
    "closed_with_original": ("随原案结案", "Closed with the original case"),
    "cancelled_with_original": ("随原案注销", "Cancelled with the original case"),
    "merge_skipped": ("未并案：本案已办结", "Not merged: this case was already finished"),
    "unmerge_skipped": ("未撤销并案：已随原案办结", "Merge not undone: already finished "
                        "with the original case"),
    "duplicate_merged": ("重复案件并入本案", "Duplicate merged into this case"),
    "duplicate_unmerged": ("重复案件撤销并案", "Duplicate taken out of this case again"),
}
TABLES: Mapping[str, _Table] = {
    "work_category": WORK_CATEGORY, "info_class": INFO_CLASS, "severity": SEVERITY,
    "priority": PRIORITY, "source": SOURCE, "assignment_role": ASSIGNMENT_ROLE,
    "assignment_state": ASSIGNMENT_STATE, "case_action": CASE_ACTION,
    "card": CARD, "role": ROLE, "handling_level": HANDLING_LEVEL, "case_state": CASE_STATE,
    "escalation_kind": ESCALATION_KIND, "notify_kind": NOTIFY_KIND, "channel": CHANNEL,
    "staff_state": STAFF_STATE, "staff_action": STAFF_ACTION,
    "department_unit": DEPARTMENT_UNIT,
}


def as_json(lang: str) -> dict[str, dict[str, str]]:
    """Every table in one language, for pages that label codes in the browser."""
    return {name: {str(code): names[1] if lang == "en" else names[0]
                   for code, names in table.items()} for name, table in TABLES.items()}


def label(table: str, code: object, lang: str = "zh-CN") -> str:
    """The name of ``code`` in ``table`` in ``lang``; the code itself when it has none."""
    if code is None:
        return ""
    names = TABLES[table].get(str(code))
    if names is None:
        return str(code)
    return names[1] if lang == "en" else names[0]

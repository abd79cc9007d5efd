"""The subcategory catalogue: what a case can be about, under which P5.2 work category.

Why a catalogue at all: a case is "archived by class" (P5.3.1) and the policy's work
categories (P5.2) and information classes (P5.4.4) are too coarse to route or count, so every
case names a subcategory.  Real systems keep per-subcategory master data (DOMAIN-REFERENCES
§2); the part intake needs is here: which work category it belongs to, its default ledger
class (P5.4.4) and severity, the alert category and CAP 1.2 category used when it becomes a
major event (P5.2.7), whether the public may report it over Open311, and Open311's typed
attributes.  Time limits and responsible departments belong to dispatch, not here.

Codes are snake_case (they appear in bus payloads as ``subcategory`` and in Open311 as
``service_code``) and are never reused for another meaning.

This module is the *packaged* catalogue, stored as version 1; a district admin changes it
as data over the API (``catalogue_version``: versions and their rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gridgov_common.contract import InfoClass, Severity, WorkCategory

_W, _I = WorkCategory, InfoClass


class Datatype(StrEnum):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


# CAP 1.2 <category> values used here (OASIS CAP 1.2 §3.2.2).
CAP_CATEGORIES = frozenset({"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health",
                            "Env", "Transport", "Infra", "CBRNE", "Other"})

ATTRIBUTE_TEXT_MAX = 500


@dataclass(frozen=True)
class Attribute:
    """A typed extra field of an Open311 service definition (and of the app's form)."""

    code: str
    datatype: Datatype
    description: str
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for the *valuelist types
    order: int = 1

    def as_open311(self) -> dict[str, Any]:
        return {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype.value,
            "required": self.required,
            "datatype_description": None,
            "order": self.order,
            "description": self.description,
            "values": [{"key": key, "name": name} for key, name in self.values],
        }


@dataclass(frozen=True)
class Subcategory:
    code: str
    work_category: WorkCategory
    info_class: InfoClass  # default ledger class (P5.4.4); a reporter may choose another
    name_zh: str
    name_en: str
    alert_category: str  # third word of the gridgov.alerts routing key (P5.2.7)
    cap_category: str  # CAP 1.2 category of the alert
    public: bool = False  # offered to the public on Open311
    severity: Severity = Severity.MINOR  # default when the reporter gives none
    # P5.2.5: a case of this subcategory reveals that a resident belongs to a special group
    # (highly sensitive personal data): only SPECIAL_GROUP_READERS in scope and the
    # departments assigned see it; everyone else sees it only as a count (docs/SECURITY.md)
    sensitive: bool = False
    description: str = ""
    attributes: tuple[Attribute, ...] = field(default=())
    retired: bool = False  # no new reports; kept for the cases filed under it
    # Handling defaults (DOMAIN-REFERENCES §2), applied by dispatch where its rule set has
    # no rule naming this subcategory: the level that handles it at its own level (P5.3.2),
    # report-in and handling limits as (amount, unit) (P5.3.3), the closing condition.
    handling_level: str | None = None
    ack_limit: tuple[float, str] | None = None
    handle_limit: tuple[float, str] | None = None
    closing_condition: str = ""

    @property
    def name(self) -> str:
        return f"{self.name_zh} / {self.name_en}"


YES_NO = (("yes", "是 / yes"), ("no", "否 / no"))

CATALOGUE: tuple[Subcategory, ...] = (
    # P5.2.1: livelihood services, done for or with residents (never public: about a person)
    Subcategory("subsistence_allowance", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "低保申请协助", "Help with a subsistence-allowance application",
                "livelihood", "Other"),
    Subcategory("elderly_care_need", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "老年人照护需求", "Elderly person needing care", "livelihood", "Health"),
    Subcategory("unemployment_registration", _W.LIVELIHOOD_SERVICE, _I.LABOUR_SOCIAL_SECURITY,
                "失业登记协助", "Help with unemployment registration", "livelihood", "Other"),
    Subcategory("public_housing", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "公共住房申请协助", "Help with a public-housing application", "livelihood",
                "Other"),
    Subcategory("low_income_allowance", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "低保对象核查与救助", "Low-income household: check and relief by Civil Affairs",
                "livelihood", "Other"),
    Subcategory("hardship_relief", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "临时救助", "Temporary hardship relief", "livelihood", "Other"),
    Subcategory("social_insurance", _W.LIVELIHOOD_SERVICE, _I.LABOUR_SOCIAL_SECURITY,
                "社保事项", "Social-insurance matter", "livelihood", "Other"),
    Subcategory("veterans_care", _W.LIVELIHOOD_SERVICE, _I.SOCIAL_AFFAIRS,
                "退役军人优抚", "Care for a veteran", "livelihood", "Other"),
    # P5.2.2: public-opinion collection (people, places, events, things)
    Subcategory("resident_suggestion", _W.PUBLIC_OPINION, _I.SOCIAL_AFFAIRS,
                "居民意见建议", "Residents' opinion or suggestion", "public_opinion", "Other",
                public=True, description="An opinion or suggestion about the neighbourhood."),
    Subcategory("public_facility_damage", _W.PUBLIC_OPINION, _I.URBAN_MANAGEMENT,
                "公共设施损坏", "Damaged public facility", "infrastructure", "Infra",
                public=True, description="Broken street light, manhole cover, road surface, "
                "fitness equipment and the like.",
                attributes=(Attribute("facility_type", Datatype.SINGLEVALUELIST,
                                      "Which facility is damaged?", required=True,
                                      values=(("street_light", "路灯 / street light"),
                                              ("manhole_cover", "井盖 / manhole cover"),
                                              ("road_surface", "路面 / road surface"),
                                              ("fitness_equipment", "健身器材 / fitness "
                                               "equipment"),
                                              ("other", "其他 / other"))),)),
    Subcategory("environmental_sanitation", _W.PUBLIC_OPINION, _I.URBAN_MANAGEMENT,
                "环境卫生问题", "Exposed garbage or dirty public area", "environment", "Env",
                public=True, description="Exposed garbage, overflowing bins, dirty roads."),
    Subcategory("illegal_construction", _W.PUBLIC_OPINION, _I.URBAN_MANAGEMENT,
                "违章搭建", "Illegal construction", "infrastructure", "Infra", public=True,
                description="Building work without a permit, e.g. on a roof or a balcony."),
    # P5.2.3: dispute mediation (never public: the parties are identifiable)
    Subcategory("neighbour_dispute", _W.DISPUTE_MEDIATION, _I.STABILITY_GOVERNANCE,
                "邻里纠纷", "Dispute between neighbours", "dispute", "Security"),
    Subcategory("property_dispute", _W.DISPUTE_MEDIATION, _I.STABILITY_GOVERNANCE,
                "物业纠纷", "Dispute with the property company", "dispute", "Other"),
    Subcategory("wage_arrears_dispute", _W.DISPUTE_MEDIATION, _I.LABOUR_SOCIAL_SECURITY,
                "欠薪纠纷", "Unpaid wages dispute", "dispute", "Security"),
    Subcategory("family_dispute", _W.DISPUTE_MEDIATION, _I.STABILITY_GOVERNANCE,
                "家庭纠纷", "Family dispute", "dispute", "Security"),
    # A petition is a dispute to mediate (P5.2.3), not membership of the petitioner group
    # (P5.2.5, kept in the registry): not sensitive (docs/SECURITY.md, special groups).
    Subcategory("petition", _W.DISPUTE_MEDIATION, _I.STABILITY_GOVERNANCE,
                "信访诉求", "Petition (individual)", "dispute", "Security"),
    # P5.2.4: public-security prevention (safety and fire hazards)
    Subcategory("fire_hazard_corridor", _W.PUBLIC_SECURITY_PREVENTION, _I.STABILITY_GOVERNANCE,
                "楼道堆物堵塞消防通道", "Stairwell or fire exit blocked", "fire", "Fire",
                public=True, description="Things stored in a stairwell or blocking a fire "
                "exit or a fire-engine access.",
                attributes=(Attribute("blocks_exit", Datatype.SINGLEVALUELIST,
                                      "Is an exit completely blocked?", values=YES_NO),)),
    Subcategory("electric_bike_charging", _W.PUBLIC_SECURITY_PREVENTION,
                _I.STABILITY_GOVERNANCE, "电动车违规充电", "Unsafe e-bike charging", "fire",
                "Fire", public=True, description="E-bikes charged in a stairwell or with a "
                "cable pulled from a window."),
    Subcategory("gas_safety_hazard", _W.PUBLIC_SECURITY_PREVENTION, _I.URBAN_MANAGEMENT,
                "燃气安全隐患", "Gas safety hazard", "gas", "Safety", public=True,
                description="Smell of gas, damaged gas pipe or meter."),
    Subcategory("public_order_hazard", _W.PUBLIC_SECURITY_PREVENTION, _I.STABILITY_GOVERNANCE,
                "治安隐患", "Public-order hazard", "public_order", "Security"),
    Subcategory("safety_hazard", _W.PUBLIC_SECURITY_PREVENTION, _I.URBAN_MANAGEMENT,
                "安全生产隐患", "Safety hazard (building, site, equipment)", "safety", "Safety",
                public=True, description="A cracked wall, an unsafe scaffold, a broken railing "
                "and the like."),
    # P5.2.5: special-group assistance (highly sensitive: never public)
    Subcategory("special_group_follow_up", _W.SPECIAL_GROUP_ASSISTANCE,
                _I.STABILITY_GOVERNANCE, "特殊人群走访帮教", "Special-group follow-up visit",
                "special_group", "Other", sensitive=True),
    Subcategory("mental_illness_risk", _W.SPECIAL_GROUP_ASSISTANCE, _I.STABILITY_GOVERNANCE,
                "肇事肇祸风险", "Person with a mental illness at risk of causing harm",
                "special_group", "Health", sensitive=True),
    Subcategory("drug_user", _W.SPECIAL_GROUP_ASSISTANCE, _I.STABILITY_GOVERNANCE,
                "社区戒毒康复人员帮教", "Community drug-rehabilitation follow-up",
                "special_group", "Health", sensitive=True),
    # P5.2.6: policy and law publicity
    Subcategory("policy_publicity_session", _W.POLICY_PUBLICITY, _I.PARTY_MASS_ORGANISATIONS,
                "政策法律宣传", "Policy and law publicity", "publicity", "Other"),
    Subcategory("anti_fraud_publicity", _W.POLICY_PUBLICITY, _I.STABILITY_GOVERNANCE,
                "反诈宣传", "Anti-fraud publicity", "publicity", "Other"),
    # P5.2.7: major events, reported at once, on-site control first (never public:
    # emergencies go to 110/119/120, not to a web form)
    Subcategory("fire_incident", _W.MAJOR_EVENT, _I.STABILITY_GOVERNANCE,
                "火灾", "Fire", "fire", "Fire", severity=Severity.CRITICAL),
    Subcategory("safety_accident", _W.MAJOR_EVENT, _I.URBAN_MANAGEMENT,
                "安全事故", "Safety accident (collapse, explosion, …)", "safety", "Safety",
                severity=Severity.MAJOR),
    Subcategory("public_order_incident", _W.MAJOR_EVENT, _I.STABILITY_GOVERNANCE,
                "治安事件", "Public-order incident", "public_order", "Security",
                severity=Severity.MAJOR),
    Subcategory("petition_stability_incident", _W.MAJOR_EVENT, _I.STABILITY_GOVERNANCE,
                "信访维稳事件", "Collective petition or stability incident", "petition",
                "Security", severity=Severity.MAJOR),
    Subcategory("public_health_emergency", _W.MAJOR_EVENT, _I.SOCIAL_AFFAIRS,
                "突发公共卫生事件", "Public-health emergency", "health", "Health",
                severity=Severity.MAJOR),
    Subcategory("environmental_incident", _W.MAJOR_EVENT, _I.URBAN_MANAGEMENT,
                "突发环境事件", "Environmental incident (spill, pollution)", "environment",
                "Env", severity=Severity.MAJOR),
    Subcategory("persons_trapped", _W.MAJOR_EVENT, _I.SOCIAL_AFFAIRS,
                "人员被困求助", "Persons trapped or in danger", "rescue", "Rescue",
                severity=Severity.CRITICAL),
    # P5.2.8: other tasks from above
    Subcategory("superior_task", _W.OTHER, _I.SOCIAL_AFFAIRS,
                "上级交办任务", "Task assigned from above", "other", "Other"),
    Subcategory("environment_pollution", _W.OTHER, _I.URBAN_MANAGEMENT,
                "环境污染投诉", "Pollution (smoke, noise, waste water)", "environment", "Env",
                public=True, description="Kitchen fumes, noise at night, waste water and the "
                "like."),
    Subcategory("public_health_concern", _W.OTHER, _I.SOCIAL_AFFAIRS,
                "公共卫生隐患", "Public-health concern", "health", "Health"),
    Subcategory("party_organisation", _W.OTHER, _I.PARTY_MASS_ORGANISATIONS,
                "党组织事务", "Party-organisation matter", "other", "Other"),
    Subcategory("other_issue", _W.OTHER, _I.URBAN_MANAGEMENT,
                "其他问题", "Other issue", "other", "Other", public=True,
                description="Anything else about the public space of the neighbourhood."),
)

# Cases of these categories concern identifiable people or emergencies: never on Open311
# (P5.4.4; P5.2.7 emergencies go to 110/119/120).
NEVER_PUBLIC = frozenset({_W.MAJOR_EVENT, _W.SPECIAL_GROUP_ASSISTANCE, _W.DISPUTE_MEDIATION,
                          _W.LIVELIHOOD_SERVICE})

# The packaged catalogue by code: the seed of version 1 (catalogue_version.DEFAULT). The
# services read the stored current version instead (services/events/catalogue_store.py).
BY_CODE: dict[str, Subcategory] = {sub.code: sub for sub in CATALOGUE}


class CatalogueError(ValueError):
    """A subcategory or attribute that does not fit the catalogue; ``field`` names the input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def is_major(work_category: str, severity: str) -> bool:
    """P5.2.7: a major event, or anything reported as critical, raises an alert at once."""
    return work_category == WorkCategory.MAJOR_EVENT or severity == Severity.CRITICAL


def check_attributes(sub: Subcategory, given: dict[str, Any]) -> dict[str, Any]:
    """Validate ``given`` against the subcategory's typed attributes; return the clean values.

    Unknown attributes are refused (a typo is an error, not silently dropped data).
    """
    known = {attr.code: attr for attr in sub.attributes}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise CatalogueError("attributes", f"unknown attribute(s) for {sub.code}: "
                                           f"{', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for code, attr in known.items():
        value = given.get(code)
        if value is None or value == "" or value == []:
            if attr.required:
                raise CatalogueError("attributes", f"attribute {code} is required")
            continue
        clean[code] = _attribute_value(attr, value)
    return clean


def _attribute_value(attr: Attribute, value: Any) -> Any:
    keys = {key for key, _ in attr.values}
    if attr.datatype == Datatype.SINGLEVALUELIST:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value not in keys:
            raise CatalogueError("attributes", f"{attr.code} must be one of "
                                               f"{', '.join(sorted(keys))}")
        return value
    if attr.datatype == Datatype.MULTIVALUELIST:
        values = value if isinstance(value, list) else [value]
        if not values or any(item not in keys for item in values):
            raise CatalogueError("attributes", f"{attr.code} takes values from "
                                               f"{', '.join(sorted(keys))}")
        return sorted(set(values))
    if attr.datatype == Datatype.NUMBER:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CatalogueError("attributes", f"{attr.code} must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise CatalogueError("attributes", f"{attr.code} must be a finite number")
        return number
    text = str(value)
    if len(text) > ATTRIBUTE_TEXT_MAX:
        raise CatalogueError("attributes", f"{attr.code} is longer than "
                                           f"{ATTRIBUTE_TEXT_MAX} characters")
    return text

"""The data contract as code: one declaration per input table, and the codes."""

from yidan.contract.aid import AID
from yidan.contract.classes import CLASSES
from yidan.contract.enrollment import ENROLLMENT
from yidan.contract.link_decisions import LINK_DECISIONS
from yidan.contract.out_of_province import OUT_OF_PROVINCE
from yidan.contract.policies import POLICIES
from yidan.contract.population import POPULATION
from yidan.contract.registry import REGISTRY
from yidan.contract.schema import Column, Kind, Table
from yidan.contract.schools import SCHOOLS
from yidan.contract.targets import TARGETS
from yidan.contract.verifications import VERIFICATIONS

TABLES: dict[str, Table] = {
    t.name: t for t in (REGISTRY, ENROLLMENT, OUT_OF_PROVINCE, AID, POLICIES, VERIFICATIONS, LINK_DECISIONS, TARGETS,
                        SCHOOLS, CLASSES, POPULATION)
}
# optional inputs of the indicators only: a run uses what it is given (yidan.reports.indicator_defs)
INDICATOR_TABLES = ("schools", "classes", "population")

__all__ = ["TABLES", "Column", "Kind", "Table", "REGISTRY", "ENROLLMENT", "OUT_OF_PROVINCE", "AID",
           "POLICIES", "VERIFICATIONS", "LINK_DECISIONS", "TARGETS",
           "SCHOOLS", "CLASSES", "POPULATION", "INDICATOR_TABLES"]

"""The contract declarations match ../shared/CONTRACT.md's promises."""

from yidan.contract import TABLES, Kind
from yidan.contract.codes import FINDING_CODES, STATUSES


def test_every_input_table_of_the_contract_is_declared():
    assert set(TABLES) == {"registry", "enrollment", "out_of_province", "aid", "policies", "verifications",
                           "link_decisions", "targets", "schools", "classes", "population"}


def test_headers_and_aliases_are_unique_within_each_table():
    for table in TABLES.values():
        headers = [c.header for c in table.columns]
        aliases = [c.alias for c in table.columns]
        assert len(set(headers)) == len(headers), table.name
        assert len(set(aliases)) == len(aliases), table.name


def test_coded_columns_list_their_allowed_values():
    for table in TABLES.values():
        for col in table.columns:
            assert bool(col.allowed) == col.is_coded, (table.name, col.alias)


def test_id_columns_are_kept_as_text_in_excel():
    assert TABLES["registry"].column("id_number").kind is Kind.ID_NUMBER
    assert TABLES["registry"].column("id_number").is_text_in_excel


def test_status_and_finding_codes_are_the_contracts():
    assert len(STATUSES) == 15 and STATUSES["UNMATCHED"] == "学籍未匹配"
    assert STATUSES["NOT_IN_KINDERGARTEN"] == "未入园" and STATUSES["NOT_IN_SCHOOL"] == "非义务教育阶段未在校"
    assert [c for c in FINDING_CODES] == [f"K0{i}" for i in range(1, 10)] + [f"Z0{i}" for i in range(1, 10)] + ["Z10"]

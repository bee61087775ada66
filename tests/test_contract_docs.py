"""docs/contract.md is generated from the contract declarations and must not drift from them."""

from yidan.contract import TABLES
from yidan.contract_docs import default_path, main, render


def test_committed_contract_page_is_up_to_date():
    assert default_path().read_text(encoding="utf-8") == render(), (
        "docs/contract.md is stale: run `python -m yidan.contract_docs` and commit the result")


def test_contract_page_lists_every_column_of_every_table_with_header_and_alias():
    page = render()
    for table in TABLES.values():
        assert f"## {table.name} — {table.label}" in page
        for col in table.columns:
            assert f"| {col.header} | `{col.alias}` | {'是' if col.required else '否'} |" in page


def test_the_generator_writes_the_page_where_asked(tmp_path):
    target = tmp_path / "contract.md"
    main([str(target)])
    assert target.read_text(encoding="utf-8") == render()

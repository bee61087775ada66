"""Aid casework end to end (issue 15), on runs written by the real pipeline: a 漏助 (Z01) worked through the
case page (补发 recorded with its voucher, closed, confirmed by the city, then confirmed or reopened by the
next run's payment data); a 非学籍地发放 (Z03) whose money the county that paid recovers on its own Z10;
the per-region totals; masking, region scope and the audit trail in the bodies."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    ANY_ID,
    ANY_MOBILE,
    COUNTY_A,
    COUNTY_A2,
    PROGRAMME,
    STANDARD,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    fixture_findings,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.store.crud import users
from yidan.store.db import session_scope
from yidan.store.models import AuditEntry, Case, User
from yidan.web.security import new_api_token

JPEG = b"\xff\xd8\xff\xe0 voucher scan"


def _children(*, z01_paid: bool) -> list[dict[str, Any]]:
    """COUNTY_A's children: a Z01 (nobody paid; with `z01_paid` the county paid the standard); one whom
    COUNTY_A2 paid once (Z03 for COUNTY_A, Z10 for COUNTY_A2); one COUNTY_A paid twice (Z02, COUNTY_A
    recovers); one paid by COUNTY_A and by COUNTY_A2 (Z02 for COUNTY_A, whose extra payment COUNTY_A2
    recovers on its Z10)."""
    z01, z03, z02, cross = fixture_findings(COUNTY_A, codes=(
        ("Z01", "aid", PROGRAMME, STANDARD, Decimal("0.00")), ("Z03", "aid", PROGRAMME, STANDARD, STANDARD),
        ("Z02", "aid", PROGRAMME, STANDARD, 2 * STANDARD), ("Z02x", "aid", PROGRAMME, STANDARD, 2 * STANDARD)),
        start=60)

    def pay(child: dict[str, Any], county: str) -> dict[str, Any]:
        return {"id_number": child["person_id"], "name": child["name"], "student_no": "G" + child["person_id"],
                "programme_code": PROGRAMME, "term": child["term"], "amount": str(STANDARD),
                "payer_county_code": county, "paid_on": "2021-04-01"}

    z03["aid"] = [pay(z03, COUNTY_A2)]
    cross["aid"] = [pay(cross, COUNTY_A), pay(cross, COUNTY_A2)]
    if z01_paid:
        z01["aid"] = [pay(z01, COUNTY_A)]
    return [z01, z03, z02, cross]


def _setup(env: Env, tmp_path: Path) -> dict[str, int]:
    """Publishes the first run; returns the case ids: Z01, Z03 and its Z10, Z02 (paid twice by COUNTY_A),
    Z02x and Z10x (paid by both counties)."""
    admin = make_user(env, "admin", "province_admin", "43")
    for name, role, region in (("clerk", "county", COUNTY_A), ("payer", "county", COUNTY_A2), ("city", "city", "4301")):
        make_user(env, name, role, region)
    children = _children(z01_paid=False)
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1", findings=children)
    label = {c["person_id"]: c["code"] for c in children}  # the name each child was written under
    out: dict[str, int] = {}
    with session_scope(env.sessions()) as s:
        for case in s.scalars(select(Case)):
            name = {("Z03", "Z10"): "Z10", ("Z02x", "Z02"): "Z02x", ("Z02x", "Z10"): "Z10x"}.get(
                (label[case.person_id], case.code), case.code)
            assert name not in out, name
            out[name] = case.id
    return out


def _with_shares(run_dir: Path) -> None:
    """The approved-share rows the pipeline computes for the rule case approved_share_exceeded (asserted
    there, tests/test_audit_rules.py), put into this run's manifest where the pipeline writes them:
    浏阳 (COUNTY_A2) paid ZZ-ZXJ to 3 of 4 pupils against 50 %, 430124 to 1 of 2 (not over)."""
    import json
    import tomllib

    from yidan.contract.outputs import APPROVED_SHARE_PATH

    rule = tomllib.loads((Path(__file__).parent / "rules/audit/approved_share_exceeded.toml").read_text(encoding="utf-8"))
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    node = manifest
    for key in APPROVED_SHARE_PATH[:-1]:
        node = node.setdefault(key, {})
    node[APPROVED_SHARE_PATH[-1]] = rule["expected_approved_share"]
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _api(env: Env, username: str) -> TestClient:
    plain, hashed = new_api_token()
    with session_scope(env.sessions()) as s:
        users.add_token(s, user=users.get_by_username(s, username=username), name="t", token_hash=hashed)
    return TestClient(env.app, headers={"Authorization": f"Bearer {plain}"})


def _version(env: Env, case_id: int) -> int:
    with session_scope(env.sessions()) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.version


def _form(client: TestClient, env: Env, case_id: int, action: str, **fields: Any) -> Any:
    data = {"csrf_token": client.csrf, "version": _version(env, case_id), **fields}  # type: ignore[attr-defined]
    return client.post(f"/cases/{case_id}/{action}", data=data)


def _publish(env: Env, tmp_path: Path, run_id: str, *, z01_paid: bool) -> None:
    with session_scope(env.sessions()) as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
    publish_fixture_run(env, admin, tmp_path / run_id, run_id=run_id, findings=_children(z01_paid=z01_paid))


def test_a_missed_payment_and_a_wrong_payer_are_worked_to_closure_and_confirmed(env: Env, tmp_path: Path) -> None:
    ids = _setup(env, tmp_path)
    assert set(ids) == {"Z01", "Z03", "Z10", "Z02", "Z02x", "Z10x"}
    env.app.state.settings.supervision.city_confirm_amount = Decimal("500.00")  # 625.00 cases need the city
    clerk, city = browser_login(env, "clerk"), browser_login(env, "city")
    z01 = ids["Z01"]

    # 补发 on the case page: validated to the fen, not in the future, not before the term began
    page = clerk.get(f"/cases/{z01}").text
    assert 'id="form-aid-payment"' in page and 'id="form-aid-recovery"' not in page
    assert "应补发</dt><dd id=\"aid-payment-due\">625.00 元" in page
    for amount, day, reason in (("625.001", "2021-05-08", "金额最多精确到分"), ("625.00", "2999-01-01", "补发日期不合理"),
                                ("625.00", "2020-12-01", "早于该问题所在学期"), ("-5", "2021-05-08", "金额须大于 0")):
        r = _form(clerk, env, z01, "aid-payment", amount=amount, on_date=day, voucher_no="BF-17")
        assert r.status_code == 400 and reason in r.text, (amount, day)
        assert 'value="BF-17"' in r.text.split('id="form-aid-payment"')[1].split("</form>")[0]  # kept as typed
    r = clerk.post(f"/cases/{z01}/attachments", data={"csrf_token": clerk.csrf, "purpose": "补发凭证"},  # type: ignore[attr-defined]
                   files={"file": ("补发凭证.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 303
    attachment_id = re.search(r'<option value="(\d+)"[^>]*>补发凭证：补发凭证.jpg', clerk.get(f"/cases/{z01}").text)
    assert attachment_id, "the uploaded voucher is offered as the record's voucher file"
    r = _form(clerk, env, z01, "aid-payment", amount="625.00", on_date="2021-05-08", voucher_no="BF-2021-017",
              attachment_id=attachment_id.group(1), note="家长电话 13812345678 已告知")
    assert r.status_code == 303
    r = _form(clerk, env, z01, "verification", conclusion="已补发", verified_on="2021-05-10")
    assert r.status_code == 303
    r = _form(clerk, env, z01, "closure-request", note="2021年5月8日补发625元")
    assert r.status_code == 303
    page = clerk.get(f"/cases/{z01}").text
    assert 'id="case-state">待市州确认销号' in page and "金额超过 500.00 元，销号须市州确认" in page
    records = page.split('id="aid-records"')[1].split("</table>")[0]
    assert "补发" in records and "625.00" in records and "BF-2021-017" in records and "补发凭证.jpg" in records
    assert "13812345678" not in page and "****5678" in records  # the note is masked like the history

    # the city's queue; returning needs a reason; confirming closes
    queue = city.get("/aid/confirmations").text.split('id="aid-queue"')[1]
    assert f'href="/cases/{z01}"' in queue and "625.00" in queue
    back = _form(city, env, z01, "closure-confirm", approve="false")
    assert back.status_code == 400 and "退回销号申请须写明理由" in back.text
    assert _form(city, env, z01, "closure-confirm", approve="false", note="凭证不清晰，请重新扫描").status_code == 303
    page = clerk.get(f"/cases/{z01}").text
    assert 'id="case-state">已核实' in page and "市州退回销号申请：凭证不清晰，请重新扫描" in page
    assert _form(clerk, env, z01, "closure-request", note="已重新上传凭证").status_code == 303
    assert _form(city, env, z01, "closure-confirm", approve="true", note="凭证齐全").status_code == 303

    # the wrong payer (COUNTY_A2) recovers on its own Z10; COUNTY_A never sees that case
    z03, z10 = ids["Z03"], ids["Z10"]
    assert clerk.get(f"/cases/{z10}").status_code == 404
    payer = _api(env, "payer")
    r = payer.post(f"/api/cases/{z10}/aid-recovery", json={"version": _version(env, z10), "amount": "625.00",
                                                           "on_date": "2021-06-01", "voucher_no": "ZH-88",
                                                           "note": "已缴回 13812345678"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["aid"]["recovered"] == "625.00" and body["aid"]["records"][0]["voucher_no"] == "ZH-88"
    assert [(x["county"], x["code"]) for x in body["aid"]["responsible"]] == [(COUNTY_A, "Z03")]  # linked back
    assert not ANY_ID.search(r.text) and not ANY_MOBILE.search(r.text)  # masked as every body
    r = payer.post(f"/api/cases/{z10}/verification", json={"version": _version(env, z10), "conclusion": "已追回",
                                                           "verified_on": "2021-06-02"})
    assert r.status_code == 200
    r = payer.post(f"/api/cases/{z10}/closure-request", json={"version": _version(env, z10), "note": "已全额追回"})
    assert r.status_code == 200 and r.json()["state"] == "closure_requested"
    assert _form(city, env, z10, "closure-confirm", approve="true").status_code == 303

    # the responsible county closes its Z03 on the recovery the payer recorded
    page = clerk.get(f"/cases/{z03}").text
    assert 'id="form-aid-recovery"' not in page  # the money is recovered where it was paid
    assert "浏阳" in page.split('id="aid-linked"')[1].split("</ul>")[0] and "已登记追回 625.00 元" in page
    assert _form(clerk, env, z03, "verification", conclusion="已追回", verified_on="2021-06-03").status_code == 303
    assert _form(clerk, env, z03, "closure-request", note="浏阳已追回").status_code == 303
    assert _form(city, env, z03, "closure-confirm", approve="true").status_code == 303

    # totals by county for the city; the province sees its city; a county cannot look above itself
    city_api = _api(env, "city")
    rows = {r["region"]: r for r in city_api.get("/api/aid/totals").json()["rows"]}
    assert rows[COUNTY_A]["pay_due_amount"] == "625.00" and rows[COUNTY_A]["paid_amount"] == "625.00"
    # COUNTY_A recovers its own second payment (Z02); a Z03's and a Z02x's money is recovered by COUNTY_A2 (Z10)
    assert (rows[COUNTY_A]["recover_due_amount"], rows[COUNTY_A]["recover_due_count"]) == ("625.00", 1)
    assert (rows[COUNTY_A2]["recover_due_amount"], rows[COUNTY_A2]["recover_due_count"]) == ("1250.00", 2)
    assert (rows[COUNTY_A2]["recovered_amount"], rows[COUNTY_A2]["recovered_count"]) == ("625.00", 1)
    assert rows[COUNTY_A]["paid_count"] == 1 and rows[COUNTY_A]["recovered_count"] == 0
    province = _api(env, "admin").get("/api/aid/totals").json()["rows"]
    assert [(r["region"], r["pay_due_amount"], r["recovered_amount"]) for r in province] == [("4301", "625.00", "625.00")]
    assert _api(env, "clerk").get("/api/aid/totals", params={"region": "4301"}).status_code == 404
    page = city.get("/aid/totals").text
    assert "应补发金额" in page and "各案件登记的追回金额合计" in page
    assert "省外就读兜底待核实（Z07）不计入应补发" in page

    # the approved share (核定比例) of the latest published run: 浏阳 paid more pupils than approved
    _with_shares(tmp_path / "r1")
    share = city.get("/aid/totals").text.split('id="aid-share"')[1].split("</section>")[0]
    assert re.findall(r"<tr><td>([^<]+)</td><td>ZZ-ZXJ</td><td>2020秋</td><td class=\"num\">(\d+)</td>"
                      r"<td class=\"num\">(\d+)</td><td class=\"num\">([\d.]+)%</td><td class=\"num\">([\d.]+)%</td>",
                      share) == [("浏阳市", "3", "4", "75.00", "50.00")]  # 430124's 1 of 2 is not over
    assert city_api.get("/api/aid/totals").json()["over_approved_share"][0]["pupils"] == 4
    assert "没有超过核定比例" in clerk.get("/aid/totals").text.split('id="aid-share"')[1]  # 浏阳 is not the clerk's
    payer_book = browser_login(env, "payer").get("/workbook/download")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(payer_book.content)).get_sheet_by_name("资助台账").to_python()
    at = next(i for i, r in enumerate(sheet) if r[0] == "资助项目")
    assert sheet[at][2:4] == ["受助人数（分子）", "在读学生数（分母）"]
    assert sheet[at + 1][:6] == ["ZZ-ZXJ", "2020秋", 3.0, 4.0, 75.0, 50.0] and len(sheet) == at + 2

    # the audit trail: each record and each city decision
    with session_scope(env.sessions()) as s:
        trail = [(e.username, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                 if e.action.startswith("aid_")]
    assert trail == [("clerk", "aid_payment"), ("city", "aid_closure_return"), ("city", "aid_closure_confirm"),
                     ("payer", "aid_recovery"), ("city", "aid_closure_confirm"), ("city", "aid_closure_confirm")]

    # the next run: the 补发 is in the payment data (the Z01 is gone: confirmed); the recovered payment is
    # still in it (Z03 / Z10 still found): settled by the 追回, they stay closed
    _publish(env, tmp_path, "r2", z01_paid=True)
    z01_body = _api(env, "clerk").get(f"/api/cases/{z01}").json()
    assert z01_body["state"] == "closed" and z01_body["aid"]["confirmation"] == "已在下一轮比对的发放数据中核实到补发"
    assert "比对 r2 的发放数据中已核实到补发" in z01_body["events"][-1]["summary"]
    with session_scope(env.sessions()) as s:
        assert {s.get(Case, i).state for i in (z03, z10)} == {"closed"}  # type: ignore[union-attr]

    # the county workbook carries the same figures on its own sheet
    book = clerk.get("/workbook/download")
    assert book.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).get_sheet_by_name("资助台账").to_python()
    figures = {row[0]: (row[1], row[2]) for row in sheet[4:8]}
    assert figures == {"应补发": (625.0, 1), "已补发": (625.0, 1), "应追回": (625.0, 1), "已追回": (0.0, 0)}
    assert sheet[8][0].startswith("另有省外就读兜底待核实（Z07）0 件。")
    assert any(str(r[0]).startswith("本县没有超过核定比例的资助项目") for r in sheet[9:])


def test_a_payment_the_next_run_does_not_show_reopens_the_case_with_the_reason(env: Env, tmp_path: Path) -> None:
    z01 = _setup(env, tmp_path)["Z01"]
    api = _api(env, "clerk")
    for action, payload in (("aid-payment", {"amount": "625", "on_date": date(2021, 5, 8).isoformat(),
                                             "voucher_no": "BF-9"}),
                            ("verification", {"conclusion": "已补发", "verified_on": "2021-05-10"}),
                            ("attachments", None),
                            ("closure-request", {"note": "已补发"})):
        if payload is None:
            import base64

            r = api.post(f"/api/cases/{z01}/attachments", json={"purpose": "补发凭证", "filename": "凭证.jpg",
                                                                "content_base64": base64.b64encode(JPEG).decode()})
        else:
            r = api.post(f"/api/cases/{z01}/{action}", json={"version": _version(env, z01), **payload})
        assert r.status_code == 200, (action, r.text)
    assert r.json()["state"] == "closed"  # 625.00 is not above the default 1000.00: no city step
    _publish(env, tmp_path, "r1-again", z01_paid=False)  # newer data, still nobody paid
    body = api.get(f"/api/cases/{z01}").json()
    assert body["state"] == "open"
    assert body["events"][-1]["summary"] == "比对 r1-again：补发未在本轮发放数据中核实到，案件重新打开"
    assert body["aid"]["confirmation"] == "补发未在本轮发放数据中核实到，案件已重新打开"
    assert body["aid"]["paid"] == "625.00"  # the record stays; a further 补发 can be added


def test_a_workbook_conclusion_on_an_aid_case_records_its_payment_from_the_declared_columns(env: Env, tmp_path: Path) -> None:
    import openpyxl

    from yidan.reports.styles import sheet_columns

    z01 = _setup(env, tmp_path)["Z01"]
    with session_scope(env.sessions()) as s:
        key = s.get(Case, z01).finding_key  # type: ignore[union-attr]
    col = {c.header: openpyxl.utils.get_column_letter(i + 1) for i, c in enumerate(sheet_columns("aid"))}
    clerk = browser_login(env, "clerk")
    downloaded = clerk.get("/workbook/download").content

    def upload(**typed: Any) -> tuple[int, str]:
        wb = openpyxl.load_workbook(io.BytesIO(downloaded))
        ws = wb["学生资助"]
        row = next(r for r in range(2, ws.max_row + 1) if ws[f"A{r}"].value == key)
        for header, value in ({"核实结论": "已补发", "核实日期": date.today()} | typed).items():
            ws[f"{col[header]}{row}"] = value
        buf = io.BytesIO()
        wb.save(buf)
        r = clerk.post("/workbook/upload", data={"csrf_token": clerk.csrf},  # type: ignore[attr-defined]
                       files=[("workbook", ("宁乡县_已填.xlsx", buf.getvalue(), "application/octet-stream"))])
        return r.status_code, r.text

    def history() -> str:
        return clerk.get(f"/cases/{z01}").text.split('id="history"')[1]

    # refused by the import itself (contract/aid_needs.py): the 补发 columns are blank
    status, page = upload()
    assert status == 400 and "核实结论为“已补发”时须填写：补发金额、补发日期、凭证号" in page
    # accepted by the import, refused by the store: the 补发 date lies before the case's term
    status, page = upload(**{"补发或追回金额": 625, "补发或追回日期": date(2020, 12, 1), "凭证号": "BF-1"})
    refused = page.split('id="aid-refused"')[1].split("</table>")[0]
    assert status == 200 and f'href="/cases/{z01}"' in refused and "早于该问题所在学期" in refused
    assert "核实结论" not in history() and "登记补发" not in history()
    # the 补发 and the conclusion from one row; uploading the same workbook again records the 补发 once
    for _ in range(2):
        status, page = upload(**{"补发或追回金额": 625, "补发或追回日期": date(2021, 5, 8), "凭证号": "BF-1"})
        assert status == 200 and 'id="aid-refused"' not in page and "已记入案件 1 条核实结论" in page
    assert "登记补发：625.00 元，补发日期 2021-05-08，凭证号 BF-1" in history() and "核实结论：已补发" in history()
    assert _api(env, "clerk").get(f"/api/cases/{z01}").json()["aid"]["paid"] == "625.00"


# which closed aid cases a returning finding leaves closed (settled off the data), as a rule table: the
# case, what its county recorded, and whether it stays closed
STAYS_CLOSED = [
    ("Z02", "情况属实无需处理 on a policy ground", True),
    ("Z02x", "已追回, the other county recovered the extra 625.00 on its Z10x", True),
    ("Z10x", "625.00 recovered in two records, but its last conclusion is 数据错误", False),
    ("Z03", "数据错误 (the data must show it)", False),
    ("Z01", "已补发 (the next run's payments must show it)", False),
]


def test_a_closure_settled_off_the_data_stays_closed_when_its_finding_is_back(env: Env, tmp_path: Path) -> None:
    from yidan.store import aid_casework
    from yidan.store.crud import cases as crud

    ids = _setup(env, tmp_path)
    with session_scope(env.sessions()) as s:
        clerk, payer = (s.scalar(select(User).where(User.username == n)) for n in ("clerk", "payer"))

        def case(name: str) -> Case:
            found = s.get(Case, ids[name])
            assert found is not None
            return found

        def conclude(name: str, conclusion: str, **why: str) -> None:
            c = case(name)
            crud.record_verification(s, case=c, user=clerk if c.county == COUNTY_A else payer, expected_version=c.version,
                                     conclusion=conclusion, verified_on=date.today(), **why)

        def recover(name: str, amount: str) -> None:
            c = case(name)
            aid_casework.record_money(s, case_=c, user=payer, expected_version=c.version, kind="recovery",
                                      amount=amount, on_date=date(2021, 6, 1), voucher_no=f"ZH-{name}")

        conclude("Z02", "情况属实无需处理", ground="湘教发〔2019〕12号 第三条")
        recover("Z10x", "600.00")
        conclude("Z10x", "数据错误", field="发放金额")
        recover("Z10x", "25.00")  # the Z02x is now covered by its linked Z10x; the Z10x's own last word is 数据错误
        conclude("Z02x", "已追回")
        conclude("Z03", "数据错误", field="发放县")
        aid_casework.record_money(s, case_=case("Z01"), user=clerk, expected_version=case("Z01").version,
                                  kind="payment", amount="625.00", on_date=date(2021, 5, 8), voucher_no="BF-1")
        conclude("Z01", "已补发")
        kept = aid_casework.stays_closed(s, {ids[name] for name, _, _ in STAYS_CLOSED})
    assert {name: ids[name] in kept for name, _, _ in STAYS_CLOSED} == {name: stays for name, _, stays in STAYS_CLOSED}

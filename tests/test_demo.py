"""`yidan demo` builds the whole chain: data, run, workbooks and a web database with accounts."""

import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from yidan.cli import app
from yidan.runs import RunDir
from yidan.settings import get_app_settings
from yidan.web.app import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_demo_runs_the_chain_and_its_county_account_sees_the_county_list(tmp_path: Path, monkeypatch):
    out = tmp_path / "demo"
    captured = {}
    import yidan.services.demo as demo_service

    real = demo_service.run_demo

    def spy(**kw):
        captured["result"] = real(**kw)
        return captured["result"]

    monkeypatch.setattr(demo_service, "run_demo", spy)
    result = CliRunner().invoke(app, ["demo", "--preset", "tiny", "--seed", "3", "--out", str(out), "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "演示数据与比对结果已生成" in result.output and "演示账号" in result.output

    run = RunDir(out / "runs" / "2021春")
    assert run.complete and {"schooling", "aid"} <= set(run.findings()["family"].to_pylist())
    assert sorted((out / "workbooks").glob("*.xlsx")), "one workbook per county"

    demo = captured["result"]
    assert {"province_admin", "province_analyst", "city", "county", "inspector"} <= {a.role for a in demo.accounts}
    for account in demo.accounts:
        assert account.username in result.output and account.password in result.output

    county = next(a for a in demo.accounts if a.role == "county")
    web = create_app(get_app_settings(database_url=demo.database_url, data_dir=demo.out))
    with TestClient(web, follow_redirects=False) as client:
        token = _CSRF.search(client.get("/login").text).group(1)
        signed_in = client.post("/login", data={"username": county.username, "password": county.password,
                                                "csrf_token": token, "next": "/"})
        assert signed_in.status_code == 303
        cases = client.get("/cases")
        assert cases.status_code == 200
        county_findings = [f for f in run.findings().to_pylist() if f["county"] == county.region]
        assert county_findings, "the demo county has findings to work"
        assert county_findings[0]["code"] in cases.text
    web.state.worker.shutdown()


def test_demo_refuses_a_folder_with_a_users_files_and_deletes_nothing(tmp_path: Path):
    import pytest

    from yidan.outfiles import OutputError
    from yidan.services.demo import run_demo

    out = tmp_path / "资料"
    out.mkdir()
    note = Path(__file__).parent / "fixtures" / "outdir" / "县里交回的说明.txt"
    (out / note.name).write_bytes(note.read_bytes())
    with pytest.raises(OutputError, match="不是演示生成的文件（如 县里交回的说明.txt）"):
        run_demo(out=out, preset="tiny", seed=3)
    assert sorted(p.name for p in out.iterdir()) == [note.name]
    assert (out / note.name).read_bytes() == note.read_bytes()

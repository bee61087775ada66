"""Files behind a case's 销号 (store/attachments.py, routes/pages_supervision.py)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from web_fixtures import (  # noqa: F401 - fixtures
    COUNTY_A,
    COUNTY_A2,
    Env,
    browser_login,
    engine_fixture,
    env_fixture,
    make_user,
    pg_schema_fixture,
    publish_fixture_run,
)
from yidan.errors import NotFoundError
from yidan.store.attachments import AttachmentError, FileStore, clean_filename
from yidan.store.db import session_scope
from yidan.store.models import Attachment, AuditEntry, Case

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)


def test_the_store_keeps_a_file_by_its_sha256_under_its_own_folder(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "att", max_bytes=1000)
    saved = store.put(PNG, "照片.png")
    assert saved.sha256 == hashlib.sha256(PNG).hexdigest() and saved.media_type == "image/png"
    path = store.path_of(saved.stored_name)
    assert path.read_bytes() == PNG and path.is_relative_to(tmp_path / "att") and path.name == f"{saved.sha256}.png"
    assert store.put(JPEG, "x.jpg").media_type == "image/jpeg" and store.put(PDF, "x").media_type == "application/pdf"


def test_the_store_refuses_oversize_empty_and_disguised_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "att", max_bytes=100)
    with pytest.raises(AttachmentError, match="附件太大"):
        store.put(PDF + bytes(100), "大.pdf")
    with pytest.raises(AttachmentError, match="空文件"):
        store.put(b"", "空.pdf")
    # a script or a Word file named like a PDF or a photo is refused by its content
    for content, name in ((b"MZ\x90\x00 an exe", "复学证明.pdf"), (b"<script>alert(1)</script>", "photo.png"),
                          (b"PK\x03\x04 docx", "证明.jpg")):
        with pytest.raises(AttachmentError, match="按文件内容判断"):
            store.put(content, name)
    assert not any((tmp_path / "att").rglob("*.*"))


def test_path_tricks_in_file_names_never_leave_the_store(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "att", max_bytes=1000)
    for name, shown in (("../../etc/passwd.png", "passwd.png"), ("..\\..\\windows\\x.png", "x.png"),
                        ("/abs/path/证明.png", "证明.png"), ("..", "附件"), ("a\x00b\n.png", "ab.png"), (".hidden.png", "hidden.png")):
        assert clean_filename(name) == shown
        saved = store.put(PNG, name)
        assert store.path_of(saved.stored_name).resolve().is_relative_to((tmp_path / "att").resolve())
    for bad in ("../x.png", "ab/../../x.pdf", "0" * 64 + ".exe", "/etc/passwd"):
        with pytest.raises(NotFoundError):
            store.path_of(bad)
    assert not (tmp_path / "etc").exists()


def _setup(env: Env, tmp_path: Path) -> dict[str, Case]:
    admin = make_user(env, "admin", "province_admin", "43")
    make_user(env, "clerk", "county", COUNTY_A)
    make_user(env, "other", "county", COUNTY_A2)
    make_user(env, "city", "city", "4301")
    make_user(env, "analyst", "province_analyst", "43")
    publish_fixture_run(env, admin, tmp_path / "r1", run_id="r1")
    with session_scope(env.sessions()) as s:
        return {c.code: c for c in s.scalars(select(Case).where(Case.county == COUNTY_A))}


def _upload(client: TestClient, case_id: int, content: bytes, name: str, purpose: str = "复学证明"):  # type: ignore[no-untyped-def]
    return client.post(f"/cases/{case_id}/attachments", data={"csrf_token": client.csrf, "purpose": purpose},
                       files={"file": (name, content, "application/pdf")})


def test_a_dropout_closes_only_with_a_file_which_the_city_downloads_and_the_audit_log_records(env: Env, tmp_path: Path) -> None:
    k02 = _setup(env, tmp_path)["K02"]
    clerk = browser_login(env, "clerk")
    for step in (("verification", {"conclusion": "已劝返复学", "verified_on": "2021-04-02"}),):
        assert clerk.post(f"/cases/{k02.id}/{step[0]}", data={"csrf_token": clerk.csrf, "version": 1, **step[1]}).status_code == 303
    page = clerk.get(f"/cases/{k02.id}").text
    assert 'id="attachment-needed"' in page
    refused = clerk.post(f"/cases/{k02.id}/closure-request", data={"csrf_token": clerk.csrf, "version": 2, "note": "已复学"})
    assert refused.status_code == 400 and "销号前须先上传佐证附件" in refused.text
    with session_scope(env.sessions()) as s:
        assert s.get(Case, k02.id).state == "verified"  # type: ignore[union-attr]

    disguised = _upload(clerk, k02.id, b"#!/bin/sh\nrm -rf /\n", "复学证明.pdf")
    assert disguised.status_code == 400 and "不是 PDF、JPEG 或 PNG 文件" in disguised.text
    # an ID number in the uploader's file name is masked like any free text
    assert _upload(clerk, k02.id, PDF, f"{k02.person_id}复学证明.pdf").status_code == 303
    page = clerk.get(f"/cases/{k02.id}").text
    assert "上传附件（复学证明）" in page and hashlib.sha256(PDF).hexdigest()[:16] in page
    assert k02.person_id not in page and 'id="attachment-needed"' not in page
    with session_scope(env.sessions()) as s:
        att = s.scalars(select(Attachment).where(Attachment.case_id == k02.id)).one()
        att_id, version = att.id, s.get(Case, k02.id).version  # type: ignore[union-attr]
    assert (env.data_dir / "attachments" / att.stored_name[:2] / att.stored_name).read_bytes() == PDF
    ok = clerk.post(f"/cases/{k02.id}/closure-request", data={"csrf_token": clerk.csrf, "version": version, "note": "已复学"})
    assert ok.status_code == 303

    city = browser_login(env, "city")
    got = city.get(f"/cases/{k02.id}/attachments/{att_id}")
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert browser_login(env, "analyst").get(f"/cases/{k02.id}/attachments/{att_id}").content == PDF
    # a county next door sees neither the case nor its file; an upload by a province analyst is refused
    assert browser_login(env, "other").get(f"/cases/{k02.id}/attachments/{att_id}").status_code == 404
    analyst = browser_login(env, "analyst")
    assert _upload(analyst, k02.id, PDF, "x.pdf").status_code == 403
    with session_scope(env.sessions()) as s:
        downloads = s.scalars(select(AuditEntry).where(AuditEntry.action == "download_attachment")).all()
        assert sorted(d.username for d in downloads) == ["analyst", "city"]
        assert all(att.sha256 in d.detail for d in downloads)


def test_an_oversize_upload_is_refused_in_chinese_and_the_api_lists_and_serves_files(env: Env, tmp_path: Path) -> None:
    z01 = _setup(env, tmp_path)["Z01"]
    env.app.state.settings.supervision.attachment_max_bytes = 200
    clerk = browser_login(env, "clerk")
    big = _upload(clerk, z01.id, PDF + bytes(300), "凭证.pdf", purpose="补发凭证")
    assert big.status_code in (400, 413) and ("附件太大" in big.text or "太大" in big.text)
    page = clerk.post("/account/tokens", data={"csrf_token": clerk.csrf}).text
    token = page.split('id="new-token">')[1].split("<")[0]
    api = TestClient(env.app, headers={"Authorization": f"Bearer {token}"})
    saved = api.post(f"/api/cases/{z01.id}/attachments", json={"purpose": "补发凭证", "filename": "凭证.jpg",
                                                              "content_base64": base64.b64encode(JPEG).decode()})
    assert saved.status_code == 200 and saved.json()["sha256"] == hashlib.sha256(JPEG).hexdigest()
    detail = api.get(f"/api/cases/{z01.id}").json()
    assert [(a["purpose"], a["media_type"]) for a in detail["attachments"]] == [("补发凭证", "image/jpeg")]
    assert api.get(detail["attachments"][0]["url"]).content == JPEG
    wrong = api.post(f"/api/cases/{z01.id}/attachments", json={"purpose": "补发凭证", "filename": "凭证.png",
                                                              "content_base64": base64.b64encode(b"GIF89a....").decode()})
    assert wrong.status_code == 400 and "按文件内容判断" in wrong.json()["detail"]

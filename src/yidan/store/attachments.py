"""Attachments: files that prove a case's work (复学证明, 送教记录, 补发凭证, 照片), kept outside the database.

The service every feature that keeps a file uses (销号 proof here; 补发 vouchers and visit photos later):

    store = FileStore(data_dir / "attachments", max_bytes=10 * 2**20)
    saved = store.put(content, "复学证明.pdf")         # sniffed, hashed, written; raises AttachmentError
    row = attach_to_case(session, store=store, case=case, user=user, purpose="复学证明",
                         filename="复学证明.pdf", content=content)
    path = store.path_of(row.stored_name)              # for the (audited) download

* The type is read from the content (magic bytes), never from the name or the browser's header:
  PDF, JPEG and PNG only. The stored name is `<sha256>.<ext>` in a two-character folder, chosen by
  the service; the uploader's name is kept only for display, cleaned of folders and control
  characters, so no name can reach outside the store.
* The same content is stored once (its SHA-256 names it); the table keeps one row per upload.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yidan.errors import NotFoundError
from yidan.store.errors import ActionError
from yidan.store.models import Attachment, Case, CaseEvent, User, utcnow

PURPOSES: tuple[str, ...] = ("复学证明", "送教记录", "补发凭证", "照片", "其他")
# media type -> (extension, magic bytes at offset 0, label)
TYPES: dict[str, tuple[str, tuple[bytes, ...], str]] = {
    "application/pdf": ("pdf", (b"%PDF-",), "PDF"),
    "image/jpeg": ("jpg", (b"\xff\xd8\xff",), "JPEG"),
    "image/png": ("png", (b"\x89PNG\r\n\x1a\n",), "PNG"),
}
_STORED = re.compile(r"^[0-9a-f]{64}\.(pdf|jpg|png)$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


class AttachmentError(ActionError):
    """A file refused: too large, empty, or not a PDF, JPEG or PNG by its content."""


def sniff(content: bytes) -> str | None:
    """The media type the content's first bytes show, or None."""
    for media_type, (_, magics, _) in TYPES.items():
        if any(content.startswith(m) for m in magics):
            return media_type
    return None


def clean_filename(name: str | None) -> str:
    """The uploader's file name for display: no folders (either slash), no control characters, no
    leading dots, at most 100 characters; "附件" when nothing is left."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = _UNSAFE.sub("", base).strip().lstrip(".").strip()
    return base[-100:] or "附件"


def megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{max(1, n // 1024)} KB"


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    sha256: str
    size: int
    media_type: str
    filename: str

    @property
    def type_label(self) -> str:
        return TYPES[self.media_type][2]


class FileStore:
    """Files by content hash under one folder (the data directory's `attachments/`)."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def put(self, content: bytes, filename: str | None) -> StoredFile:
        shown = clean_filename(filename)
        if not content:
            raise AttachmentError(f"附件是空文件：{shown}", hint="选择有内容的 PDF、JPEG 或 PNG 文件。")
        if len(content) > self.max_bytes:
            raise AttachmentError(f"附件太大：{shown}（{megabytes(len(content))}，上限 {megabytes(self.max_bytes)}）。",
                                  hint="压缩图片或拆分 PDF 后重新上传。")
        media_type = sniff(content)
        if media_type is None:
            raise AttachmentError(f"附件不是 PDF、JPEG 或 PNG 文件：{shown}（按文件内容判断，与文件名无关）。",
                                  hint="扫描或拍照后另存为 PDF、JPEG 或 PNG 再上传。")
        digest = hashlib.sha256(content).hexdigest()
        stored = f"{digest}.{TYPES[media_type][0]}"
        target = self.path_of(stored)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredFile(stored, digest, len(content), media_type, shown)

    def path_of(self, stored_name: str) -> Path:
        """Where a stored file lies; only names this store makes are accepted."""
        if not _STORED.match(stored_name):
            raise NotFoundError("附件不存在。", hint="回到案件页面重新选择。")
        return self.root / stored_name[:2] / stored_name

    def read(self, stored_name: str) -> bytes:
        path = self.path_of(stored_name)
        if not path.is_file():
            raise NotFoundError("附件文件已不在服务器上。", hint="请联系管理员从备份恢复数据目录。")
        return path.read_bytes()


def attach_to_case(session: Session, *, store: FileStore, case: Case, user: User, purpose: str,
                   filename: str | None, content: bytes) -> Attachment:
    """Keep a file on a case and write it into the case's history."""
    if purpose not in PURPOSES:
        raise AttachmentError(f"附件类别无效：{purpose}", hint="可选：" + "、".join(PURPOSES))
    if case.is_closed:
        raise ActionError(f"案件已{case.state_label}，不能再上传附件。", hint="如需重新处理，请等待下次比对。")
    saved = store.put(content, filename)
    row = Attachment(case_id=case.id, purpose=purpose, filename=saved.filename, stored_name=saved.stored_name,
                     media_type=saved.media_type, size=saved.size, sha256=saved.sha256, uploaded_by=user.id)
    session.add(row)
    session.flush()
    session.add(CaseEvent(
        case_id=case.id, user_id=user.id, actor=user.display_name, kind="attachment",
        summary=f"上传附件（{purpose}）：{saved.filename}，{saved.type_label}，{megabytes(saved.size)}，"
                f"SHA-256 {saved.sha256[:16]}…",
        data={"attachment_id": row.id, "purpose": purpose, "sha256": saved.sha256, "size": saved.size}))
    case.updated_at = utcnow()
    session.flush()
    return row


def for_case(session: Session, *, case_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)))


def get_for_case(session: Session, *, case: Case, attachment_id: int) -> Attachment:
    """An attachment of a case the caller already found in the user's region (else not found)."""
    row = session.get(Attachment, attachment_id)
    if row is None or row.case_id != case.id:
        raise NotFoundError(f"附件不存在：{attachment_id}", hint="回到案件页面重新选择。")
    return row


def count_for_case(session: Session, *, case_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Attachment).where(Attachment.case_id == case_id)) or 0)


def require_for_closure(session: Session, *, case: Case, codes: tuple[str, ...]) -> None:
    """Codes in `codes` (settings: supervision.attachment_required) need a file before 销号."""
    if case.code in codes and not count_for_case(session, case_id=case.id):
        raise ActionError(f"{case.code} {case.label}案件销号前须先上传佐证附件（如复学证明、补发凭证），本次销号申请未保存。",
                          hint="在案件页面“佐证附件”处上传 PDF、JPEG 或 PNG 文件后再申请销号。")

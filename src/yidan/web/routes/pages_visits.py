"""走访台账 on the web: the villages and schools of the user's region, each a PDF to print (issue 19).

The PDFs are the same as `yidan report --pdf` writes, with the 三帮一 teams the web holds for the
cases; they carry masked IDs and phones only. A unit outside the user's region is not found; every
download is written to the audit log."""

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yidan.errors import NotFoundError
from yidan.runs.rundir import RunDir
from yidan.store import audit
from yidan.store.crud import runs as run_crud
from yidan.store.models import User
from yidan.web.deps import WORKBOOK_USERS, CurrentUser, SessionDep, allow
from yidan.web.render import render
from yidan.web.security import check_csrf
from yidan.web.workbooks import teams_of

router = APIRouter(dependencies=[Depends(check_csrf)])
VISIT_BOOK_USERS = WORKBOOK_USERS  # the roles that take the county's list to the field


def _latest(session, user: User) -> RunDir | None:  # type: ignore[no-untyped-def]
    run = run_crud.latest_published(session, region=user.region)
    return RunDir(run.path) if run is not None else None


def _by(value: str) -> str:
    from yidan.errors import ConfigError

    if value not in ("village", "school"):
        raise ConfigError(f"不支持的分组：{value}", hint="可选按村（village）或按学校（school）。")
    return value


@router.get("/visits", dependencies=allow(*VISIT_BOOK_USERS), name="visits")
def visits_page(request: Request, session: SessionDep, user: CurrentUser, by: str = "village"):
    from yidan.reports.visits import visit_units

    rundir = _latest(session, user)
    units = visit_units(rundir, _by(by), user.region) if rundir is not None else []
    return render(request, "visits.html", {"run": rundir, "units": units, "by": by})


@router.get("/visits/download", dependencies=allow(*VISIT_BOOK_USERS), name="visits_download")
def visits_download(session: SessionDep, user: CurrentUser, unit: str, by: str = "village"):
    from yidan.reports.visits import write_visit_books

    rundir = _latest(session, user)
    if rundir is None:
        raise NotFoundError("还没有已发布的比对，暂无走访台账。", hint="等待省级发布比对结果。")
    with tempfile.TemporaryDirectory(prefix="yidan-visits-") as tmp:
        paths = write_visit_books(rundir, Path(tmp), _by(by), counties=[user.region], unit=unit.strip(),
                                  teams=teams_of(session, user.region))
        if not paths:
            raise NotFoundError(f"本地区没有该{'村' if by == 'village' else '学校'}的走访台账：{unit[:20]}",
                                hint="回到走访台账页重新选择。")
        (path,) = paths
        body = path.read_bytes()
    audit.record(session, user=user, action="export_visits", target=path.name, detail=f"比对 {rundir.run_id}")
    from urllib.parse import quote

    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})

"""Starting the application with uvicorn (used by `yidan serve` and `yidan demo`)."""

from __future__ import annotations

import os
from pathlib import Path

from yidan.settings import get_app_settings


def serve(*, database_url: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          data_dir: Path | None = None, workers: int = 1) -> None:
    """Serve the application; with `workers` > 1, that many server processes (uvicorn's process
    manager) share the port, each building the application from the same YIDAN_* settings. The
    database is migrated and the instance's secret made once, here, before they start."""
    import uvicorn

    from yidan.web.app import create_app

    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    settings = get_app_settings(**overrides)
    from yidan.logs import configure

    configure(settings.log)
    if workers > 1:
        from yidan.store.db import make_engine, upgrade
        from yidan.store.instance import instance_secret

        engine = make_engine(settings.database_url)
        upgrade(engine)
        instance_secret(engine)
        engine.dispose()
        os.environ["YIDAN_DATABASE_URL"] = settings.database_url  # the workers read their settings from here
        os.environ["YIDAN_DATA_DIR"] = str(Path(settings.data_dir).resolve())
        uvicorn.run("yidan.web.server:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level="warning", proxy_headers=True)
        return
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


def app_from_env():  # type: ignore[no-untyped-def]
    """Factory for `uvicorn --factory yidan.web.server:app_from_env` (settings from YIDAN_* variables)."""
    from yidan.logs import configure
    from yidan.web.app import create_app

    settings = get_app_settings()
    configure(settings.log)
    return create_app(settings)

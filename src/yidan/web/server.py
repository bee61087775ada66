"""Starting the application with uvicorn (used by `yidan serve` and `yidan demo`)."""

from __future__ import annotations

from pathlib import Path

from yidan.settings import get_app_settings


def serve(*, database_url: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          data_dir: Path | None = None) -> None:
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
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


def app_from_env():  # type: ignore[no-untyped-def]
    """Factory for `uvicorn --factory yidan.web.server:app_from_env` (settings from YIDAN_* variables)."""
    from yidan.web.app import create_app

    return create_app(get_app_settings())

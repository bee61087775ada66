"""All routers of the application, in the order they are mounted."""

from yidan.web.routes import (
    api_cases,
    api_indicators,
    api_runs,
    pages_admin,
    pages_auth,
    pages_cases,
    pages_dashboard,
    pages_indicators,
    pages_runs,
    pages_workbook,
)

ROUTERS = (
    pages_auth.router,
    pages_dashboard.router,
    pages_cases.router,
    pages_runs.router,
    pages_workbook.router,
    pages_indicators.router,
    pages_admin.router,
    api_cases.router,
    api_runs.router,
    api_indicators.router,
)

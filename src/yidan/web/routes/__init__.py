"""All routers of the application, in the order they are mounted."""

from yidan.web.routes import (
    api_cases,
    api_indicators,
    api_runs,
    api_supervision,
    ops_routes,
    pages_admin,
    pages_aid,
    pages_auth,
    pages_cases,
    pages_dashboard,
    pages_home_teaching,
    pages_indicators,
    pages_inspection,
    pages_places,
    pages_runs,
    pages_supervision,
    pages_visits,
    pages_workbook,
)

ROUTERS = (
    pages_auth.router,
    pages_dashboard.router,
    pages_cases.router,
    pages_runs.router,
    pages_workbook.router,
    pages_visits.router,
    pages_indicators.router,
    pages_admin.router,
    api_cases.router,
    api_runs.router,
    pages_places.router,  # issue 21
    *ops_routes.ROUTERS,  # issue 22: retry a failed run, /readyz
    api_indicators.router,
    pages_supervision.router, pages_supervision.api_router,  # issue 16: deadlines and attachments
    pages_inspection.router, pages_home_teaching.router,  # issue 16: inspection samples, 送教上门
    pages_aid.router, pages_aid.api_router,  # issue 15: aid totals, the city's confirmation queue
    api_supervision.router,  # issue 16: approvals and inspection in the JSON API
)

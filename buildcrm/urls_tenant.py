"""Tenant host: the PWA, the REST API, the OpenAPI schema."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from buildcrm import api_input, spa
from buildcrm.health import healthz
from buildcrm.media import media_serve
from buildcrm.views import AnalyticsExportView, AnalyticsTablesView, AnalyticsView

api = [
    path("", include("accounts.urls")),
    path("", include("leads.urls")),
    path("", include("conversations.urls")),
    path("", include("followups.urls")),
    path("", include("knowledge.urls")),
    path("", include("tasks.urls")),
    path("", include("notifications.urls")),
    path("analytics/summary/", AnalyticsView.as_view()),
    path("analytics/tables/", AnalyticsTablesView.as_view()),
    path("analytics/export/<str:table>/", AnalyticsExportView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema")),
]

urlpatterns = [
    path("api/", include(api)),
    path("healthz", healthz),
    re_path(r"^media/(?P<path>.*)$", media_serve),
    re_path(r"^(?!api/|ws/|static/|admin/|webhooks/|media/)(?P<path>.*)$", spa.index),
]

# Under /api/ a URL that matches nothing (an id that is not a number) or a request Django refuses answers JSON.
handler400 = api_input.api_bad_request
handler404 = api_input.api_not_found

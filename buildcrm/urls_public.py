"""Platform host: the global admin, webhooks, health."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from rest_framework.authtoken.models import TokenProxy

from buildcrm.health import healthz
from buildcrm.metrics import metrics_view
from buildcrm.webhooks import webhook

admin.site.site_header = "BuildCRM — платформа"
admin.site.site_title = "BuildCRM admin"
admin.site.index_title = "Клиенты платформы"
# Empty values as a dash, not "None" or Django's "-" (issue 16).
admin.site.empty_value_display = "—"
# API tokens live in each tenant's schema: the platform admin has no table to list them from.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("webhooks/<str:provider>/<str:key>/", webhook),
    path("oauth/google/", include("tenants.oauth")),
    path("healthz", healthz),
    path("metrics", metrics_view),
]

from django.urls import path

from integrations import views

urlpatterns = [path("<str:provider>/<str:key>/", views.webhook)]

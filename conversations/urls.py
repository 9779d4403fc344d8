from django.urls import path

from conversations import views

urlpatterns = [
    path("leads/<int:pk>/messages/", views.LeadMessagesView.as_view()),
    path("sandbox/messages/", views.SandboxMessagesView.as_view()),
    path("sandbox/receipts/", views.SandboxReceiptsView.as_view()),
]

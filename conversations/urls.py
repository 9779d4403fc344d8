from django.urls import path

from conversations import views

urlpatterns = [
    path("leads/<int:pk>/messages/", views.LeadMessagesView.as_view()),
    path("sandbox/messages/", views.SandboxMessagesView.as_view()),
    path("sandbox/receipts/", views.SandboxReceiptsView.as_view()),
    path("quick-replies/", views.QuickRepliesView.as_view()),
    path("quick-replies/<int:pk>/", views.QuickReplyDetailView.as_view()),
    path("leads/<int:pk>/notes/", views.LeadNotesView.as_view()),
    path("leads/<int:pk>/reply-window/", views.LeadReplyWindowView.as_view()),
]

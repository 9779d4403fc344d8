from django.urls import path

from leads import views

urlpatterns = [
    path("leads/", views.LeadListView.as_view()),
    path("leads/export/", views.LeadExportView.as_view()),
    path("leads/import/preview/", views.LeadImportPreviewView.as_view()),
    path("leads/import/", views.LeadImportView.as_view()),
    path("leads/bulk/", views.LeadBulkView.as_view()),
    path("leads/<int:pk>/", views.LeadDetailView.as_view()),
    path("leads/<int:pk>/takeover/", views.LeadTakeoverView.as_view()),
    path("leads/<int:pk>/return-to-ai/", views.LeadReturnToAIView.as_view()),
    path("leads/<int:pk>/events/", views.LeadEventsView.as_view()),
    path("leads/<int:pk>/read/", views.LeadReadView.as_view()),
    path("assignment/", views.AssignmentView.as_view()),
    path("board/", views.BoardView.as_view()),
    path("stages/", views.StageListView.as_view()),
    path("stages/<int:pk>/", views.StageDetailView.as_view()),
]

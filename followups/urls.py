from django.urls import path

from followups import views

urlpatterns = [
    path("content/", views.ContentListView.as_view()),
    path("content/<int:pk>/", views.ContentDetailView.as_view()),
    path("followups/engagement/", views.EngagementView.as_view()),
    path("leads/<int:pk>/followups/", views.LeadFollowUpsView.as_view()),
]

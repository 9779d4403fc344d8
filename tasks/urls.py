from django.urls import path

from tasks import views

urlpatterns = [
    path("leads/<int:pk>/tasks/", views.LeadTasksView.as_view()),
    path("tasks/my/", views.MyTasksView.as_view()),
    path("tasks/<int:pk>/done/", views.TaskDoneView.as_view()),
]

from django.urls import path

from knowledge import views

urlpatterns = [
    path("knowledge/", views.KnowledgeView.as_view()),
    path("knowledge/qa/", views.QAListView.as_view()),
    path("knowledge/qa/<int:pk>/", views.QADetailView.as_view()),
    path("knowledge/prices/", views.PriceListView.as_view()),
    path("knowledge/prices/<int:pk>/", views.PriceDetailView.as_view()),
    path("knowledge/delivery/", views.DeliveryListView.as_view()),
    path("knowledge/delivery/<int:pk>/", views.DeliveryDetailView.as_view()),
    path("knowledge/terms/", views.TermListView.as_view()),
    path("knowledge/terms/<int:pk>/", views.TermDetailView.as_view()),
]

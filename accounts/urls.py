from django.urls import path

from accounts import views

urlpatterns = [
    path("auth/token/", views.TokenView.as_view()),
    path("auth/login/", views.LoginView.as_view()),
    path("auth/logout/", views.LogoutView.as_view()),
    path("auth/csrf/", views.CsrfView.as_view()),
    path("auth/me/", views.MeView.as_view()),
    path("auth/password/", views.PasswordChangeView.as_view()),
    path("users/", views.UserListView.as_view()),
    path("users/<int:pk>/", views.UserDetailView.as_view()),
    path("users/<int:pk>/password/", views.UserPasswordResetView.as_view()),
]

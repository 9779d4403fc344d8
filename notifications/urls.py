from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view()),
    path("notifications/unread/", views.UnreadView.as_view()),
    path("notifications/read/", views.MarkReadView.as_view()),
    path("notifications/prefs/", views.PrefsView.as_view()),
    path("notifications/push/key/", views.PushKeyView.as_view()),
    path("notifications/push/subscribe/", views.PushSubscribeView.as_view()),
    path("notifications/push/unsubscribe/", views.PushUnsubscribeView.as_view()),
    path("notifications/telegram/", views.TelegramLinkView.as_view()),
]

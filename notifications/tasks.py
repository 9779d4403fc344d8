"""Celery tasks of notifications: thin wrappers run in the tenant's schema (tenant-schemas-celery)."""
from celery import shared_task

from notifications import services
from notifications.models import PushSubscription


@shared_task(name="notifications.tasks.notify_event", acks_late=True, ignore_result=True)
def notify_event(event: str, payload: dict) -> int:
    """The notifications of one domain event: rows, the live bell, pushes, Telegram."""
    return services.on_event(event, payload)


@shared_task(name="notifications.tasks.push_retry", acks_late=True, ignore_result=True)
def push_retry(subscription_id: int, push: dict, attempt: int) -> bool:
    """One more try of a push the push service refused with a 5xx (or could not be reached)."""
    subscription = PushSubscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    return services.push_deliver(subscription=subscription, push=services.Push(**push), attempt=attempt)


@shared_task(name="notifications.tasks.telegram_say", acks_late=True, ignore_result=True)
def telegram_say(chat_id: int, text: str) -> None:
    """The bot's answer to a linking message."""
    services.telegram_say(chat_id=chat_id, text=text)


@shared_task(name="notifications.tasks.release_held", acks_late=True, ignore_result=True)
def release_held() -> int:
    """Every minute: the pushes and Telegram messages quiet hours held, once they are over."""
    return services.held_release()

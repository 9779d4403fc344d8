"""/ws/: live CRM events for a logged-in user of the tenant named by the Host header."""
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import tenant_context

from conversations.realtime import group_staff, group_user


@database_sync_to_async
def _groups_for(tenant, user) -> list[str]:
    from leads.selectors import user_sees_all_leads

    with tenant_context(tenant):
        if user_sees_all_leads(user=user):
            return [group_staff(tenant.id)]
        return [group_user(tenant.id, user.id)]


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        tenant, user = self.scope.get("tenant"), self.scope.get("user")
        if tenant is None or user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await _groups_for(tenant, user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": user.id, "tenant": tenant.slug})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def crm_event(self, message):
        await self.send_json(message["event"])

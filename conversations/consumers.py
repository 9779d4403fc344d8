"""/ws/: live CRM events for a logged-in user of the tenant named by the Host header."""
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django_tenants.utils import tenant_context

from core import metrics
from core.realtime import LocalFanout, group_account, group_staff, group_tenant, group_user, session_fingerprint
from leads.selectors import user_sees_all_leads


@database_sync_to_async
def _groups_for(tenant, user) -> list[str]:
    with tenant_context(tenant):
        if user_sees_all_leads(user=user):
            return [group_staff(tenant.id)]
        return [group_user(tenant.id, user.id)]


class LiveConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own: every event reaches a socket through its process's LocalFanout, so a socket holds no
    # channel-layer receive (one pending Redis read per socket, and one more thing to cancel when it closes).
    channel_layer_alias = "per-process fan-out only"

    async def connect(self):
        tenant, user = self.scope.get("tenant"), self.scope.get("user")
        if tenant is None or user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = [*await _groups_for(tenant, user), group_account(tenant.id, user.id),
                              group_tenant(tenant.id)]
        # Accepted before joining: an event that came between a join and the accept would be a frame sent on a
        # socket not yet open. One committed while joining is not lost: the PWA reloads what it shows on "hello".
        await self.accept()
        fanout = self.fanout = LocalFanout.current(get_channel_layer())
        for group in self.groups_joined:
            await fanout.join(group, self)
        self.counted = True
        metrics.websocket_opened()
        await self.send_json({"type": "hello", "user": user.id, "tenant": tenant.slug})

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            self.counted = False
            metrics.websocket_closed()
        for group in getattr(self, "groups_joined", []):
            await self.fanout.leave(group, self)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # The client's only message is a heartbeat ping; anything else (garbage, binary) is ignored, not fatal.
        if text_data and len(text_data) <= 1024:
            try:
                content = await self.decode_json(text_data)
            except ValueError:
                return
            if isinstance(content, dict) and content.get("type") == "ping":
                await self.send_json({"type": "pong"})

    async def crm_event(self, message):
        await self.send_json(message["event"])

    async def auth_revoked(self, message):
        # The user's password changed or they were deactivated: a client still allowed in reconnects with the
        # credentials it has now; one whose session or token ended is refused then. The session that changed
        # the password goes on, and so do its sockets (closing them would race its new session cookie).
        keep = message["event"].get("keep_session")
        if keep and keep == session_fingerprint(self.scope.get("session_key")):
            return
        await self.close(code=4401)

    async def tenant_suspended(self, message):
        # The tenant was suspended (or marked for deletion): no live data any more. The PWA's reconnect is refused
        # while the tenant is not active, and its next request gets the suspended page.
        await self.close(code=4403)

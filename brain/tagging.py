"""Tags the AI puts on a lead from what the client writes (seed 004's tagging): what the NLU already detected —
intents (price, a call, a person wanted, thinking it over), urgency — and the interests the follow-ups recorded
(the tags of the content the client asked for). Pure: words in, short lower-case tags out."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TAG_CHARS = 32
INTENT_TAGS = {
    "price_question": "цена",
    "call_request": "звонок",
    "human_request": "живой менеджер",
    "thinking": "думает",
}
URGENCY_TAGS = {"now": "срочно"}


def tags_of(*, intents: Iterable[str], data: dict[str, Any] | None) -> list[str]:
    """The tags one client message earns: its intents, an urgent timeline, the lead's recorded interests."""
    tags = [INTENT_TAGS[i] for i in sorted(set(intents)) if i in INTENT_TAGS]
    data = data if isinstance(data, dict) else {}
    urgency = data.get("urgency")
    if isinstance(urgency, str) and urgency in URGENCY_TAGS:
        tags.append(URGENCY_TAGS[urgency])
    interests = data.get("interests")
    if isinstance(interests, list):
        tags += [" ".join(str(t).split()).lower() for t in interests[:10] if isinstance(t, str)]
    return [t for t in dict.fromkeys(tags) if t and len(t) <= TAG_CHARS and "," not in t]

"""Who a message pings, by Discord's allowed_mentions rules.

A mention in the content pings only if allowed_mentions allows it; a message sent without
allowed_mentions may ping everything it mentions. Computed as if the bot had the Mention
Everyone permission and every role were mentionable: the worst case, so a test that finds
no ping here would find none in any server. Embeds never ping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(?:everyone|here)")
PARSE_VALUES = frozenset({"users", "roles", "everyone"})


@dataclass(frozen=True)
class Pings:
    users: frozenset[int]
    roles: frozenset[int]
    everyone: bool


def allowed_mentions_errors(allowed: Any) -> list[str]:
    """Why Discord would reject this allowed_mentions object (empty when valid)."""
    if allowed is None:
        return []
    if not isinstance(allowed, dict):
        return ["allowed_mentions must be an object"]
    errors: list[str] = []
    parse = allowed.get("parse", [])
    unknown = set(parse) - PARSE_VALUES
    if unknown:
        errors.append(f"allowed_mentions.parse has unknown values {sorted(unknown)}")
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors.append(f"allowed_mentions: parse {kind!r} and a {kind} list are exclusive")
        if len(allowed.get(kind, [])) > 100:
            errors.append(f"allowed_mentions.{kind} has more than 100 ids")
    return errors


def compute_pings(content: str | None, allowed: dict[str, Any] | None) -> Pings:
    text = content or ""
    mentioned_users = {int(match) for match in USER_MENTION.findall(text)}
    mentioned_roles = {int(match) for match in ROLE_MENTION.findall(text)}
    mentions_everyone = EVERYONE_MENTION.search(text) is not None
    if allowed is None:
        return Pings(frozenset(mentioned_users), frozenset(mentioned_roles), mentions_everyone)

    parse = set(allowed.get("parse", []))
    allowed_users = {int(user_id) for user_id in allowed.get("users", [])}
    allowed_roles = {int(role_id) for role_id in allowed.get("roles", [])}
    users = mentioned_users if "users" in parse else mentioned_users & allowed_users
    roles = mentioned_roles if "roles" in parse else mentioned_roles & allowed_roles
    return Pings(frozenset(users), frozenset(roles), mentions_everyone and "everyone" in parse)

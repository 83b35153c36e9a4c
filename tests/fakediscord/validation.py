"""Discord's documented limits on what a bot sends, so the fake rejects what Discord would.

Each check returns a list of `FieldError`; an empty list means Discord would accept it.
The REST layer turns a non-empty list into 400 {"code": 50035, "message": "Invalid Form Body",
"errors": {...}} exactly as Discord nests it, which discord.py renders as "In content: ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakediscord.mentions import allowed_mentions_errors

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_CUSTOM_ID = 100
MAX_ACTION_ROWS = 5
MAX_CHOICES = 25
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


@dataclass(frozen=True)
class FieldError:
    path: str
    code: str
    message: str


def nested_errors(errors: list[FieldError]) -> dict[str, Any]:
    """Discord's error tree: {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    tree: dict[str, Any] = {}
    for error in errors:
        node = tree
        for part in error.path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": error.code, "message": error.message})
    return tree


def _too_long(path: str, limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def message_errors(payload: dict[str, Any], *, file_count: int, editing: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    content = payload.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors.append(_too_long("content", MAX_CONTENT))
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        errors.append(_too_long("embeds", MAX_EMBEDS))
    total = 0
    for index, embed in enumerate(embeds):
        for key, limit in EMBED_TEXT_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                errors.append(_too_long(f"embeds.{index}.{key}", limit))
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.append(_too_long(f"embeds.{index}.fields", 25))
        for field_index, field in enumerate(fields):
            total += len(field.get("name", "")) + len(field.get("value", ""))
            if len(field.get("name", "")) > 256:
                errors.append(_too_long(f"embeds.{index}.fields.{field_index}.name", 256))
            if len(field.get("value", "")) > 1024:
                errors.append(_too_long(f"embeds.{index}.fields.{field_index}.value", 1024))
        footer = (embed.get("footer") or {}).get("text", "")
        author = (embed.get("author") or {}).get("name", "")
        total += len(footer) + len(author)
        if len(footer) > 2048:
            errors.append(_too_long(f"embeds.{index}.footer.text", 2048))
        if len(author) > 256:
            errors.append(_too_long(f"embeds.{index}.author.name", 256))
    if total > MAX_EMBED_TOTAL:
        errors.append(_too_long("embeds", MAX_EMBED_TOTAL))
    errors.extend(_component_errors(payload.get("components") or []))
    errors.extend(
        FieldError("allowed_mentions", "ALLOWED_MENTIONS_INVALID", text)
        for text in allowed_mentions_errors(payload.get("allowed_mentions"))
    )
    is_empty = not (
        content or embeds or payload.get("components") or file_count or payload.get("poll")
    )
    if is_empty and not editing and not payload.get("sticker_ids"):
        errors.append(FieldError("content", "BASE_TYPE_REQUIRED", "Cannot send an empty message"))
    return errors


def _component_errors(components: list[dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    action_rows = [c for c in components if c.get("type") == 1]
    if len(action_rows) > MAX_ACTION_ROWS:
        errors.append(_too_long("components", MAX_ACTION_ROWS))

    def walk(items: list[dict[str, Any]], path: str) -> None:
        for index, item in enumerate(items):
            custom_id = item.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                errors.append(_too_long(f"{path}.{index}.custom_id", MAX_CUSTOM_ID))
            label = item.get("label")
            if isinstance(label, str) and len(label) > 80:
                errors.append(_too_long(f"{path}.{index}.label", 80))
            walk(item.get("components") or [], f"{path}.{index}.components")

    walk(components, "components")
    return errors


def choices_errors(choices: list[dict[str, Any]], path: str = "data.choices") -> list[FieldError]:
    errors: list[FieldError] = []
    if len(choices) > MAX_CHOICES:
        errors.append(_too_long(path, MAX_CHOICES))
    for index, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            errors.append(_too_long(f"{path}.{index}.name", 100))
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            errors.append(_too_long(f"{path}.{index}.value", 100))
    return errors


def commands_errors(commands: list[dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        key = (command.get("name", ""), command.get("type", 1))
        if key in seen:
            errors.append(
                FieldError(f"{index}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
            )
        seen.add(key)
        is_slash = command.get("type", 1) == 1
        errors.extend(_command_errors(command, str(index), is_slash=is_slash))
    return errors


def _command_errors(command: dict[str, Any], path: str, *, is_slash: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    name = command.get("name", "")
    if is_slash and (not COMMAND_NAME.match(name) or name != name.lower()):
        errors.append(
            FieldError(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {name!r}")
        )
    if is_slash and not 1 <= len(command.get("description", "")) <= 100:
        errors.append(_too_long(f"{path}.description", 100))
    options = command.get("options") or []
    if len(options) > 25:
        errors.append(_too_long(f"{path}.options", 25))
    for index, option in enumerate(options):
        option_path = f"{path}.options.{index}"
        errors.extend(_command_errors(option, option_path, is_slash=True))
        errors.extend(choices_errors(option.get("choices") or [], f"{option_path}.choices"))
    return errors


MODAL_TITLE, MODAL_COMPONENTS, INPUT_LABEL, INPUT_TEXT, PLACEHOLDER = 45, 5, 45, 4000, 100
TEXT_INPUT, LABEL = 4, 18


def modal_errors(data: dict[str, Any]) -> list[FieldError]:
    """A modal callback's data: title, custom_id, 1 to 5 rows or labels, each text input sane."""
    errors: list[FieldError] = []
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MODAL_TITLE:
        errors.append(_too_long("data.title", MODAL_TITLE))
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
        errors.append(_too_long("data.custom_id", MAX_CUSTOM_ID))
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= MODAL_COMPONENTS:
        return [*errors, _too_long("data.components", MODAL_COMPONENTS)]
    for index, component in enumerate(components):
        path = f"data.components.{index}"
        if component.get("type") == LABEL:
            if len(component.get("label") or "") > INPUT_LABEL:
                errors.append(_too_long(f"{path}.label", INPUT_LABEL))
            inner = [(f"{path}.component", component.get("component") or {})]
        else:
            inner = [
                (f"{path}.components.{i}", item)
                for i, item in enumerate(component.get("components") or [])
            ]
        for item_path, item in inner:
            if item.get("type") == TEXT_INPUT:
                errors.extend(_text_input_errors(item, item_path))
    return errors


def _text_input_errors(item: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    custom_id = item.get("custom_id") or ""
    if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
        errors.append(_too_long(f"{path}.custom_id", MAX_CUSTOM_ID))
    if item.get("style") not in (1, 2):
        errors.append(FieldError(f"{path}.style", "BASE_TYPE_CHOICES", "Value must be 1 or 2."))
    for key, limit in (("label", INPUT_LABEL), ("placeholder", PLACEHOLDER), ("value", INPUT_TEXT)):
        if len(item.get(key) or "") > limit:
            errors.append(_too_long(f"{path}.{key}", limit))
    for key in ("min_length", "max_length"):
        if item.get(key) is not None and not 0 <= item[key] <= INPUT_TEXT:
            errors.append(_too_long(f"{path}.{key}", INPUT_TEXT))
    return errors

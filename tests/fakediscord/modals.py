"""Modals: what the bot opened (callback type 9), and a member submitting it (type 5).

The submission mirrors the modal's layout, as Discord sends it: a text input inside an
action row comes back in a row, one inside a label (type 18) comes back in a label, each with
its `value`; a select inside a label comes back with `values`. Every component gets the
numeric `id` Discord assigns when the bot left it out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from tests.fakediscord.driving import InteractionDriving
from tests.fakediscord.models import FakeInteraction, FakeModal, FakeUser, JsonDict

ACTION_ROW, TEXT_INPUT, LABEL = 1, 4, 18
SELECTS = (3, 5, 6, 7, 8)
MODAL_SUBMIT = 5

Value = str | list[str]


def submitted(modal: FakeModal, values: dict[str, Value]) -> list[JsonDict]:
    """The `data.components` of the submission; ValueError for what Discord's client forbids."""
    known = {item["custom_id"] for item in modal.inputs()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"modal {modal.custom_id!r} has no input {unknown}; it has {sorted(known)}"
        )
    ids = itertools.count(1)
    return [_echo(component, values, ids) for component in modal.components]


def _echo(component: JsonDict, values: dict[str, Value], ids: Iterator[int]) -> JsonDict:
    kind = component["type"]
    answer: JsonDict = {"type": kind, "id": component.get("id") or next(ids)}
    if kind == ACTION_ROW:
        answer["components"] = [_echo(item, values, ids) for item in component["components"]]
    elif kind == LABEL:
        answer["component"] = _echo(component["component"], values, ids)
    elif kind == TEXT_INPUT:
        answer["custom_id"] = component["custom_id"]
        answer["value"] = _text_value(component, values.get(component["custom_id"]))
    elif kind in SELECTS:
        answer["custom_id"] = component["custom_id"]
        chosen = values.get(component["custom_id"], [])
        answer["values"] = [chosen] if isinstance(chosen, str) else list(chosen)
    return answer


def _text_value(component: JsonDict, value: Value | None) -> str:
    text = (component.get("value") or "") if value is None else value
    if not isinstance(text, str):
        raise ValueError(f"text input {component['custom_id']!r} takes a str, not {text!r}")
    required = component.get("required", True)
    low, high = component.get("min_length") or 0, component.get("max_length") or 4000
    if (required or text) and not max(low, 1 if required else 0) <= len(text) <= high:
        raise ValueError(
            f"text input {component['custom_id']!r} needs {low}..{high} characters"
            f"{' (required)' if required else ''}, got {len(text)}"
        )
    return text


class ModalActions(InteractionDriving):
    """FakeDiscord's modal methods (a mixin: it uses the server's state and builder)."""

    async def wait_for_modal(self, interaction: FakeInteraction, timeout: float = 5.0) -> FakeModal:
        """The modal the bot opened in answer to `interaction` (an accepted callback 9)."""
        record = self.state.interactions[interaction.id]
        return await self.state.wait_for(
            lambda: record.modal,
            timeout,
            lambda: (
                f"no modal for {interaction.name or interaction.custom_id!r}: {record.callbacks}"
            ),
        )

    async def submit_modal(
        self,
        modal: FakeModal | FakeInteraction,
        values: dict[str, Value],
        *,
        user: FakeUser | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Fill in and submit a modal (INTERACTION_CREATE type 5), by default as the member who
        opened it; inputs left out keep their default value."""
        if isinstance(modal, FakeInteraction):
            modal = await self.wait_for_modal(modal, timeout)
        origin = modal.interaction
        submitter = user or self.state.users_by_id()[origin.user_id]
        payload = self.builder.base(MODAL_SUBMIT, submitter, origin.channel_id)
        payload["data"] = {"custom_id": modal.custom_id, "components": submitted(modal, values)}
        if "message" in origin.payload:
            clicked = self.state.messages[int(origin.payload["message"]["id"])]
            payload["message"] = clicked.raw
        return await self._send_interaction(payload, name=origin.name, timeout=timeout)

"""Modals: what the bot opened (callback type 9), and a member submitting it (type 5).

The submission mirrors the modal's layout, as Discord sends it: a field inside an action row
comes back in a row, one inside a label (type 18) in a label; every component gets the numeric
`id` Discord assigns when the bot left it out. What each field carries:

    text input (4)          "value": str (the default when left out)
    selects (3, 5-8)        "values": [str]    (a str is taken as one value)
    radio group (21)        "value": str       (absent when left out)
    checkbox group (22)     "values": [str]
    checkbox (23)           "value": bool
    file upload (19)        "values": [attachment id], the files under data.resolved.attachments,
                            given as [(filename, bytes, content_type)] and served by the fake
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakediscord import payloads
from tests.fakediscord.driving import InteractionDriving
from tests.fakediscord.interactions import AttachmentSpec
from tests.fakediscord.models import FakeInteraction, FakeModal, FakeUser, JsonDict
from tests.fakediscord.state import FakeState

ACTION_ROW, TEXT_INPUT, LABEL, FILE_UPLOAD = 1, 4, 18, 19
LISTS = (3, 5, 6, 7, 8, 22)  # selects and the checkbox group
RADIO_GROUP, CHECKBOX = 21, 23
MODAL_SUBMIT = 5

Value = str | list[str] | bool | list[AttachmentSpec]


class Submission:
    """Builds `data` for one submission; ValueError for what Discord's client would not send."""

    def __init__(self, state: FakeState, modal: FakeModal, values: dict[str, Value]) -> None:
        known = {item["custom_id"] for item in modal.inputs()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"modal {modal.custom_id!r} has no input {unknown}; it has {sorted(known)}"
            )
        self.state, self.modal, self.values = state, modal, values
        self.ids = itertools.count(1)
        self.resolved: dict[str, dict[str, JsonDict]] = {}

    def data(self) -> JsonDict:
        components = [self._echo(component) for component in self.modal.components]
        data: JsonDict = {"custom_id": self.modal.custom_id, "components": components}
        if self.resolved:
            data["resolved"] = self.resolved
        return data

    def _echo(self, component: JsonDict) -> JsonDict:
        kind = component["type"]
        answer: JsonDict = {"type": kind, "id": component.get("id") or next(self.ids)}
        if kind == ACTION_ROW:
            answer["components"] = [self._echo(item) for item in component["components"]]
            return answer
        if kind == LABEL:
            answer["component"] = self._echo(component["component"])
            return answer
        if "custom_id" not in component:  # text displays and the like come back bare
            return answer
        custom_id = answer["custom_id"] = component["custom_id"]
        value: Any = self.values.get(custom_id)
        if kind == TEXT_INPUT:
            answer["value"] = _text_value(component, value)
        elif kind in LISTS:
            answer["values"] = [value] if isinstance(value, str) else list(value or [])
        elif kind == RADIO_GROUP and value is not None:
            answer["value"] = value
        elif kind == CHECKBOX:
            answer["value"] = bool(value)
        elif kind == FILE_UPLOAD:
            answer["values"] = [self._upload(spec) for spec in value or []]
        return answer

    def _upload(self, spec: AttachmentSpec) -> str:
        filename, data, content_type = spec
        channel_id = self.modal.interaction.channel_id
        upload = self.state.store_upload(channel_id, filename, data, content_type, None)
        self.resolved.setdefault("attachments", {})[str(upload.id)] = payloads.attachment(upload)
        return str(upload.id)


def _text_value(component: JsonDict, value: Any) -> str:
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
            lambda: f"no modal answered {interaction.name!r}; callbacks: {record.callbacks}",
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
        payload["data"] = Submission(self.state, modal, values).data()
        if "message" in origin.payload:
            clicked = self.state.messages[int(origin.payload["message"]["id"])]
            payload["message"] = clicked.raw
        return await self._send_interaction(payload, name=origin.name, timeout=timeout)

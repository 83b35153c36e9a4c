"""Interaction routes: the callback, the original response and followups (webhook routes)."""

from __future__ import annotations

from aiohttp import web

from tests.fakediscord.models import (
    EPHEMERAL_FLAG,
    LOADING_FLAG,
    CallbackRecord,
    FakeMessage,
    FakeModal,
)
from tests.fakediscord.rest_common import (
    AT,
    DiscordError,
    RestContext,
    body_of,
    invalid_form,
    json_of,
    json_response,
    no_content,
    snowflake_param,
)
from tests.fakediscord.rest_messages import (
    UNKNOWN_MESSAGE,
    apply_edit,
    check_message,
    check_upload_size,
)
from tests.fakediscord.state import InteractionRecord
from tests.fakediscord.validation import FieldError, choices_errors, modal_errors

PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE, MODAL = (
    1,
    4,
    5,
    6,
    7,
    8,
    9,
)
COMMAND_INTERACTION, COMPONENT_INTERACTION, AUTOCOMPLETE_INTERACTION, MODAL_SUBMIT = 2, 3, 4, 5
ALLOWED_CALLBACKS = {
    COMMAND_INTERACTION: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    COMPONENT_INTERACTION: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE_INTERACTION: {AUTOCOMPLETE},
    # A modal cannot answer a modal; updating a message needs a modal opened from a click.
    MODAL_SUBMIT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
# Flags a bot may set on a response: suppress embeds, ephemeral, silent, components v2.
RESPONSE_FLAGS = (1 << 2) | EPHEMERAL_FLAG | (1 << 12) | (1 << 15)

UNKNOWN_INTERACTION = DiscordError(404, 10062, "Unknown interaction")
UNKNOWN_WEBHOOK = DiscordError(404, 10015, "Unknown Webhook")


class InteractionRoutes:
    def __init__(self, context: RestContext) -> None:
        self.context = context
        self.state = context.state

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post("/interactions/{interaction_id}/{token}/callback", self.callback)
        router.add_post("/webhooks/{application_id}/{token}", self.followup)
        messages = "/webhooks/{application_id}/{token}/messages/{message_id}"
        router.add_get(messages, self.get_response)
        router.add_patch(messages, self.edit_response)
        router.add_delete(messages, self.delete_response)

    # the callback

    async def callback(self, request: web.Request) -> web.Response:
        at = request[AT]
        record = self.state.interactions.get(snowflake_param(request, "interaction_id"))
        if record is None or record.interaction.token != request.match_info["token"]:
            raise UNKNOWN_INTERACTION
        body = body_of(request)
        payload = json_of(request)
        callback_type = int(payload.get("type", 0))
        data = payload.get("data")
        error: DiscordError | None = None
        if record.acknowledged:
            error = DiscordError(400, 40060, "Interaction has already been acknowledged.")
        elif record.expired or at - record.interaction.sent_at > self.context.ack_deadline:
            error = UNKNOWN_INTERACTION
        files = ()
        if error is None:
            try:
                files = tuple(await self._respond(record, callback_type, data or {}, body.uploads))
            except DiscordError as rejected:
                error = rejected
        record.callbacks.append(
            CallbackRecord(callback_type, data, at, files, None if error is None else error.code)
        )
        await self.state.notify()
        if error is not None:
            raise error
        return json_response(self._callback_answer(record, callback_type))

    async def _respond(
        self, record: InteractionRecord, callback_type: int, data: dict, uploads: list
    ) -> list:
        interaction = record.interaction
        updates = callback_type in (DEFERRED_UPDATE, UPDATE_MESSAGE)
        allowed = ALLOWED_CALLBACKS.get(interaction.type, set())
        if callback_type not in allowed or (updates and record.clicked_message_id is None):
            raise invalid_form(
                [FieldError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid type")]
            )
        if callback_type == AUTOCOMPLETE:
            errors = choices_errors(data.get("choices") or [])
            if errors:
                raise invalid_form(errors)
        elif callback_type == MODAL:
            errors = modal_errors(data)
            if errors:
                raise invalid_form(errors)
            record.modal = FakeModal(
                interaction, data["custom_id"], data["title"], list(data["components"])
            )
        files: list = []
        if callback_type in (MESSAGE, UPDATE_MESSAGE):
            check_message(data, uploads, editing=callback_type == UPDATE_MESSAGE)
            check_upload_size(uploads, self._upload_limit(record))
        if callback_type == MESSAGE:
            files = self.state.files_from(interaction.channel_id, data, uploads, keep=[])
            message = await self._create_response(record, data, files, flags=self._flags(data))
            record.original_message_id = message.id
        elif callback_type == DEFERRED_MESSAGE:
            flags = LOADING_FLAG | (self._flags(data) & EPHEMERAL_FLAG)
            message = await self._create_response(record, {"content": ""}, [], flags=flags)
            record.original_message_id = message.id
        elif callback_type in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            record.original_message_id = record.clicked_message_id
            clicked = self.state.messages.get(record.clicked_message_id or 0)
            if callback_type == UPDATE_MESSAGE and clicked is not None:
                keep = clicked.files
                new_files = None
                if uploads or "attachments" in data:
                    new_files = self.state.files_from(clicked.channel_id, data, uploads, keep=keep)
                    files = new_files
                await self.state.edit_message(clicked, data, new_files)
        record.response_type = callback_type
        return files

    def _upload_limit(self, record: InteractionRecord) -> int:
        guild = self.state.home_of(record.interaction.channel_id)
        return (guild or self.state.guild).upload_limit

    @staticmethod
    def _flags(data: dict) -> int:
        return int(data.get("flags") or 0) & RESPONSE_FLAGS

    async def _create_response(
        self, record: InteractionRecord, data: dict, files: list, *, flags: int
    ) -> FakeMessage:
        return await self.state.create_message(
            channel_id=record.interaction.channel_id,
            payload=data,
            files=files,
            source="response",
            interaction_id=record.interaction.id,
            flags=flags,
        )

    def _callback_answer(self, record: InteractionRecord, callback_type: int) -> dict:
        original = self.state.messages.get(record.original_message_id or 0)
        answer: dict = {
            "interaction": {
                "id": str(record.interaction.id),
                "type": record.interaction.type,
                "response_message_loading": callback_type == DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(original and original.ephemeral),
            }
        }
        if original is not None:
            answer["interaction"]["response_message_id"] = str(original.id)
        if callback_type in (MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE) and original is not None:
            answer["resource"] = {"type": callback_type, "message": original.raw}
        elif callback_type in (DEFERRED_UPDATE, MODAL):
            answer["resource"] = {"type": callback_type}
        return answer

    # webhook routes with the interaction token

    def _record(self, request: web.Request) -> InteractionRecord:
        application_id = snowflake_param(request, "application_id")
        token = request.match_info["token"]
        record = next(
            (r for r in self.state.interactions.values() if r.interaction.token == token), None
        )
        if record is None or application_id != self.state.application_id:
            raise UNKNOWN_WEBHOOK
        if record.expired:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if not record.acknowledged:
            raise UNKNOWN_WEBHOOK
        return record

    def _response_message(self, request: web.Request, record: InteractionRecord) -> FakeMessage:
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            message_id = record.original_message_id
        elif wanted.isdigit() and (
            int(wanted) in record.followup_ids or int(wanted) == record.original_message_id
        ):
            message_id = int(wanted)
        else:
            message_id = None
        message = self.state.messages.get(message_id or 0)
        if message is None or message.deleted:
            raise UNKNOWN_MESSAGE
        return message

    async def followup(self, request: web.Request) -> web.Response:
        record = self._record(request)
        body = body_of(request)
        payload = json_of(request)
        check_message(payload, body.uploads, editing=False)
        check_upload_size(body.uploads, self._upload_limit(record))
        channel_id = record.interaction.channel_id
        original = self.state.messages.get(record.original_message_id or 0)
        if original is not None and original.loading and not original.deleted:
            # After a defer, the first followup replaces the "thinking" message and keeps its
            # visibility, whatever the followup's own ephemeral flag says.
            files = self.state.files_from(channel_id, payload, body.uploads, keep=[])
            original.flags &= ~LOADING_FLAG
            message = await self.state.edit_message(original, payload, files)
        else:
            files = self.state.files_from(channel_id, payload, body.uploads, keep=[])
            message = await self.state.create_message(
                channel_id=channel_id,
                payload=payload,
                files=files,
                source="followup",
                interaction_id=record.interaction.id,
                flags=self._flags(payload),
            )
            record.followup_ids.append(message.id)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message.raw)
        return no_content()

    async def get_response(self, request: web.Request) -> web.Response:
        record = self._record(request)
        return json_response(self._response_message(request, record).raw)

    async def edit_response(self, request: web.Request) -> web.Response:
        record = self._record(request)
        message = self._response_message(request, record)
        await apply_edit(
            self.state, message, request, self._upload_limit(record), ends_loading=True
        )
        return json_response(message.raw)

    async def delete_response(self, request: web.Request) -> web.Response:
        record = self._record(request)
        await self.state.delete_message(self._response_message(request, record))
        return no_content()

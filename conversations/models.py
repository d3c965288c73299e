"""Conversations with a MiniMax model, and the messages in them.

A conversation keeps the settings a reply is generated with (model, dialect, system
prompt, sampling); a message is one turn, and an assistant message also keeps what
MiniMax said about it (status, finish reason, usage, safety flags, timings).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from conversations.context import fit_history, history_budget
from conversations.minimax.catalog import Dialect
from conversations.minimax.prompting import (
    ConversationSettings,
    Turn,
    build_chat_request,
    reply_sender_name,
)
from conversations.minimax.types import (
    DEFAULT_BOT_NAME,
    DEFAULT_USER_NAME,
    ChatRequest,
)
from conversations.tree import MessageTree

TITLE_LENGTH = 60
# [review] What the owner sees instead of a message a reviewer hid.
HIDDEN_PLACEHOLDER = _("This message was hidden by a reviewer.")


class DialectChoices(models.TextChoices):
    V2 = Dialect.V2.value, "chatcompletion_v2"
    CHAT = Dialect.CHAT.value, "chat/completions"
    PRO = Dialect.PRO.value, "chatcompletion_pro"


class ConversationQuerySet(models.QuerySet):
    def for_user(self, user) -> ConversationQuerySet:
        """Return the conversations `user` owns (none for an anonymous visitor)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)


class TitleSource(models.TextChoices):
    # history: who wrote the title; an automatic title never overwrites the user's.
    AUTO = "auto", _("automatic")
    USER = "user", _("set by the user")


class Conversation(models.Model):
    # The signed-in user who created it; only they can open it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("owner"),
    )
    # Set by the user, or from the first user message when blank (services).
    title = models.CharField(_("title"), max_length=200, blank=True)
    # history: "auto" (first words, then titles.suggest_title) until the user renames.
    title_source = models.CharField(
        _("title source"), max_length=8, choices=TitleSource, default=TitleSource.AUTO
    )
    # history: sha256 of the exported conversation this one was imported from (blank
    # when made here); importing the same file again skips it.
    import_fingerprint = models.CharField(
        _("import fingerprint"), max_length=64, blank=True
    )
    # A catalog.MODELS id chosen on the new-conversation form.
    model = models.CharField(_("model"), max_length=64)
    # The wire format: the model's default dialect unless the user picked another.
    dialect = models.CharField(_("dialect"), max_length=8, choices=DialectChoices)
    # Typed by the user. v2/chat: sent as the system message; pro: the bot's content.
    system_prompt = models.TextField(_("system prompt"), blank=True)
    # The assistant's name (pro: bot_setting.bot_name and the reply's sender_name).
    bot_name = models.CharField(_("bot name"), max_length=64, default=DEFAULT_BOT_NAME)
    # The user's name (pro: sender_name of user turns; v2/chat: not sent).
    user_name = models.CharField(
        _("user name"), max_length=64, default=DEFAULT_USER_NAME
    )
    # Sampling settings from the settings panel; null means the model's default.
    temperature = models.FloatField(_("temperature"), null=True, blank=True)
    top_p = models.FloatField(_("top p"), null=True, blank=True)
    max_tokens = models.PositiveIntegerField(_("max tokens"), null=True, blank=True)
    # {"name", "description", "schema"} from the settings panel: the reply must be
    # JSON that validates against "schema" (response_format json_schema).
    json_schema = models.JSONField(_("JSON schema"), null=True, blank=True)
    # The end of the branch on screen (tree.py), set by an edit, a regenerate or
    # the version pager. Null: the newest message's branch (a plain send clears
    # it, as its reply is then the newest message).
    active_leaf = models.ForeignKey(
        "Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("active leaf"),
    )
    # Toggled by the user in the conversation list.
    pinned = models.BooleanField(_("pinned"), default=False)
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Bumped whenever the user sends a message or changes a setting; orders the list.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-updated_at"]
        indexes = [
            models.Index(
                fields=["owner", "-updated_at"], name="conversation_owner_recent"
            ),
            # history: the list page's keyset order (history.conversation_page).
            models.Index(
                fields=["owner", "archived", "-pinned", "-updated_at", "-id"],
                name="conversation_owner_list",
            ),
        ]
        constraints = [
            # history: one import of a given exported conversation per user.
            models.UniqueConstraint(
                fields=["owner", "import_fingerprint"],
                condition=~Q(import_fingerprint=""),
                name="conversation_unique_import",
            ),
        ]

    def __str__(self) -> str:
        return self.title or _("Conversation %(id)s") % {"id": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("conversation", kwargs={"conversation_id": self.pk})

    def prompt_settings(self) -> ConversationSettings:
        """Return what this conversation decides about its replies, for the vendor."""
        return ConversationSettings(
            model=self.model,
            dialect=self.dialect or None,
            system_prompt=self.system_prompt,
            bot_name=self.bot_name,
            user_name=self.user_name,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            json_schema=self.json_schema or None,
        )

    def title_from(self, content: str) -> str:
        """Return a title made from the first user message: one line, ~60 chars."""
        return Truncator(" ".join(content.split())).chars(TITLE_LENGTH)

    def tree(self) -> MessageTree:
        """Return all of the conversation's messages as a tree (one query)."""
        return MessageTree(list(self.messages.all()), self.active_leaf_id)

    def active_branch(self) -> list[Message]:
        """Return the messages of the branch on screen, oldest first.

        Each carries `sibling_ids` (the versions of its turn) for message_json.
        """
        return self.tree().branch()

    def history(self, branch: list[Message] | None = None) -> list[Turn]:
        """Return the active branch's turns to send upstream, oldest first.

        Assistant turns that failed, or never got any text, are left out: the model
        would otherwise be shown a half answer, or an empty turn some endpoints
        refuse. A reply that is still streaming is not history yet. A message a
        reviewer hid is left out too.
        """
        turns: list[Turn] = []
        for message in self.active_branch() if branch is None else branch:
            if message.hidden:  # a reviewer hid it: never sent again
                continue
            if message.role == Message.Role.USER:
                turns.append(Turn("user", message.content))
            elif message.role == Message.Role.ASSISTANT and message.usable_as_history:
                turns.append(
                    Turn(
                        "assistant",
                        message.content,
                        reasoning=message.reasoning,
                        tool_calls=message.tool_calls,
                    )
                )
        return turns

    def chat_request(self, *, stream: bool = True) -> ChatRequest:
        """Return the request for the next reply, in this conversation's dialect."""
        return self.chat_request_in_window(stream=stream)[0]

    def chat_request_in_window(
        self,
        *,
        stream: bool = True,
        new_turns: list[Turn] | None = None,
        branch: list[Message] | None = None,
    ) -> tuple[ChatRequest, int]:
        """Return the request with the history that fits the model's context window,
        and how many of the oldest turns were left out (context.py).

        `new_turns` follow the stored history: a user turn about to be stored.
        `branch`: the active branch, when the caller has loaded it already.
        """
        settings = self.prompt_settings()
        history = self.history(branch) + list(new_turns or ())
        turns, left_out = fit_history(history, history_budget(settings))
        return build_chat_request(settings, turns, stream=stream), left_out

    def reply_sender_name(self) -> str:
        """Return the label a new reply of this conversation is stored under."""
        return reply_sender_name(self.prompt_settings())


class MessageQuerySet(models.QuerySet):
    def flagged(self) -> MessageQuerySet:
        """Return messages MiniMax marked as sensitive, on input or output."""
        return self.filter(Q(input_sensitive=True) | Q(output_sensitive=True))

    def streaming(self) -> MessageQuerySet:
        return self.filter(status=Message.Status.STREAMING)

    def stale_streaming(self, older_than: timedelta) -> MessageQuerySet:
        """Return replies still marked streaming but not saved for `older_than`.

        A live reply saves a checkpoint at least every few seconds, so one that has
        not for this long belongs to a process that died.
        """
        cutoff = timezone.now() - older_than
        return self.streaming().filter(
            Q(checkpoint_at__lt=cutoff)
            | Q(checkpoint_at__isnull=True, created_at__lt=cutoff)
        )

    def mark_interrupted(self) -> int:
        """Mark these replies interrupted, keeping their text; return how many."""
        return self.update(
            status=Message.Status.INTERRUPTED, finished_at=timezone.now()
        )


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")
        SYSTEM = "system", _("system")
        TOOL = "tool", _("tool")

    class Status(models.TextChoices):
        STREAMING = "streaming", _("streaming")
        COMPLETE = "complete", _("complete")
        STOPPED = "stopped", _("stopped")
        ERROR = "error", _("error")
        INTERRUPTED = "interrupted", _("interrupted")

    # Replies that are not (yet) part of the history sent back to the model.
    UNUSABLE_STATUSES = (Status.STREAMING, Status.ERROR)

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    # history: the conversation's owner, copied here so that the search index knows
    # it (conversations/search.py). The database sets it on every write (triggers,
    # migration 0006), whatever the code wrote; never set it by hand.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("owner"),
    )
    # The message this one follows (tree.py): null for a first turn. An edit is a
    # new user message beside the one it replaces (same parent), a regenerated
    # reply a new one beside the old.
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    # user: typed in the composer; assistant: a reply from MiniMax.
    role = models.CharField(_("role"), max_length=16, choices=Role)
    # The conversation's user_name / bot_name when the message was stored.
    sender_name = models.CharField(_("sender name"), max_length=64, blank=True)
    # user: the text sent; assistant: the answer so far (checkpoints), then all of it.
    content = models.TextField(_("content"), blank=True)
    # The model's reasoning (M1 reasoning_content, M2.x <think>), shown apart.
    reasoning = models.TextField(_("reasoning"), blank=True)
    # User messages are stored complete; a reply starts streaming and ends in one of
    # complete / stopped (user pressed stop) / error / interrupted (process died).
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.COMPLETE
    )
    # From MiniMax's final event: stop, length, tool_calls, ...
    finish_reason = models.CharField(_("finish reason"), max_length=32, blank=True)
    # From the client's StreamError: errors.MiniMaxError.kind, .code and the message
    # shown to the user (never contains the API key).
    error_kind = models.CharField(_("error kind"), max_length=32, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    # MiniMax's usage block for this reply; null when it did not report one.
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    # MiniMax's content-safety verdict (input_sensitive_type / output_sensitive_type:
    # 0 none, 1 severe, 2 porn, 3 ads, 4 prohibited, 5 abuse, 6 violence, 7 other).
    input_sensitive = models.BooleanField(_("input sensitive"), default=False)
    input_sensitive_type = models.PositiveSmallIntegerField(default=0)
    output_sensitive = models.BooleanField(_("output sensitive"), default=False)
    output_sensitive_type = models.PositiveSmallIntegerField(default=0)
    # MiniMax's id for the completion (the response's "id"), for support requests.
    response_id = models.CharField(_("response id"), max_length=128, blank=True)
    # Measured by services: request start -> first text or reasoning, and -> end.
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set when the conversation has a json_schema and the reply completed: whether
    # the reply parsed as JSON and validated against it.
    json_valid = models.BooleanField(_("JSON valid"), null=True, blank=True)
    # Tool calls the model made, OpenAI-shaped: [{"id", "type", "function": {...}}].
    tool_calls = models.JSONField(_("tool calls"), null=True, blank=True)
    # How many of the oldest turns were left out of the request for this reply, to
    # fit the model's context window (Conversation.chat_request); 0: none.
    context_trimmed = models.PositiveIntegerField(_("turns left out"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Last save while streaming (about once a second, at least every few seconds);
    # recover_replies treats a streaming reply with an old checkpoint as dead.
    checkpoint_at = models.DateTimeField(_("checkpoint at"), null=True, blank=True)
    # When the reply ended, whatever the status; null for user messages.
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # [review] Set by a reviewer's hide decision, cleared by approve (review app):
    # the owner then sees HIDDEN_PLACEHOLDER, and the turn is not sent upstream.
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["conversation", "created_at", "id"],
                name="message_conversation_order",
            ),
            models.Index(
                fields=["checkpoint_at"],
                condition=Q(status="streaming"),
                name="message_streaming_checkpoint",
            ),
            models.Index(
                fields=["-created_at"],
                condition=Q(input_sensitive=True) | Q(output_sensitive=True),
                name="message_flagged_recent",
            ),
        ]

    def __str__(self) -> str:
        # [review] Flagged text is for reviewers only, and __str__ shows up in
        # every admin page (breadcrumbs, checkboxes, the history log).
        if self.flagged or self.error_code in (1026, 1027) or self.hidden:
            return f"{self.role} #{self.pk}"
        return f"{self.role}: {Truncator(self.content).chars(40)}"

    # The ids of this turn's versions, oldest first, when the code that loaded the
    # message knows them (MessageTree.annotate); message_json shows "1 / 1" without.
    sibling_ids: list[int] | None = None
    # Set to store a message with no parent although the conversation has some (an
    # edit of the first turn); see save().
    is_root = False

    def save(self, *args, **kwargs) -> None:
        """Store the message; a new one without a parent continues the active branch.

        services give every message its parent; this default keeps a message
        created elsewhere (the admin, a script, a test) on the branch on screen,
        as the conversation's new leaf.
        """
        if self._state.adding and Message.conversation.is_cached(self):
            # What the database's trigger sets: so that this instance knows it too.
            self.owner_id = self.conversation.owner_id
        adding = self._state.adding and self.parent_id is None and not self.is_root
        if adding:
            # The stored leaf, not the in-memory conversation's (it may be stale).
            conversation = Conversation.objects.get(pk=self.conversation_id)
            self.parent = conversation.tree().leaf()
        super().save(*args, **kwargs)
        if adding:
            Conversation.objects.filter(pk=self.conversation_id).update(
                active_leaf=self
            )
            self.conversation.active_leaf = self

    @property
    def flagged(self) -> bool:
        return self.input_sensitive or self.output_sensitive

    @property
    def usable_as_history(self) -> bool:
        """Whether this reply is shown to the model as a past turn."""
        if self.status in self.UNUSABLE_STATUSES:
            return False
        return bool(self.content.strip() or self.tool_calls)

    @property
    def hidden(self) -> bool:
        """Whether a reviewer hid this message from its owner (review app)."""
        return self.hidden_at is not None

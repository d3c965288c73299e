"""Forms: a conversation's settings, checked against the model catalog."""

from __future__ import annotations

from typing import Any

import jsonschema
from django import forms
from django.forms.models import model_to_dict
from django.utils.translation import gettext_lazy as _

from conversations.minimax.catalog import (
    DEFAULT_MODEL,
    MODELS,
    TEMPERATURE_RANGE,
    TOP_P_RANGE,
    Dialect,
)
from conversations.minimax.schema import schema_name_is_valid
from conversations.minimax.types import DEFAULT_BOT_NAME, DEFAULT_USER_NAME
from conversations.models import Conversation

SYSTEM_PROMPT_MAX = 32_000


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ValidationError unless `schema` is valid for the draft it names.

    A schema that is not one would make every reply "does not match".
    """
    validator = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        path = "/".join(str(part) for part in error.path) or "(top)"
        raise forms.ValidationError(
            _("This is not a valid JSON Schema (at %(path)s): %(reason)s"),
            code="invalid_schema",
            params={"path": path, "reason": error.message[:200]},
        ) from error
    except RecursionError as error:
        raise forms.ValidationError(
            _("The JSON schema is nested too deeply."), code="too_deep"
        ) from error


def model_choices() -> list[tuple[str, str]]:
    return [(spec.id, spec.label) for spec in MODELS.values()]


class ConversationSettingsForm(forms.ModelForm):
    """Create or update a conversation; every range is the vendor's documented one."""

    model = forms.ChoiceField(choices=model_choices)
    # Blank means "the model's default dialect".
    dialect = forms.ChoiceField(
        choices=[("", "")] + [(d.value, d.value) for d in Dialect], required=False
    )
    system_prompt = forms.CharField(
        required=False, max_length=SYSTEM_PROMPT_MAX, strip=False
    )
    bot_name = forms.CharField(required=False, max_length=64)
    user_name = forms.CharField(required=False, max_length=64)
    temperature = forms.FloatField(required=False)
    top_p = forms.FloatField(required=False)
    max_tokens = forms.IntegerField(required=False)
    json_schema = forms.JSONField(required=False)
    title = forms.CharField(required=False, max_length=200)

    class Meta:
        model = Conversation
        fields = [
            "model",
            "dialect",
            "system_prompt",
            "bot_name",
            "user_name",
            "temperature",
            "top_p",
            "max_tokens",
            "json_schema",
            "title",
            "pinned",
            "archived",
        ]

    @classmethod
    def for_update(
        cls, instance: Conversation, payload: dict[str, Any]
    ) -> ConversationSettingsForm:
        """Return a form for a PATCH: fields not sent keep their current values.

        When only the model changes, settings that the new model cannot take (its
        dialect, a max_tokens above its limit, a JSON schema) fall back to its
        defaults instead of failing: the page sends just {"model": ...}.
        """
        data = model_to_dict(instance, fields=cls._meta.fields)
        data.update(payload)
        if "model" in payload and payload["model"] != instance.model:
            spec = MODELS.get(payload["model"])
            if spec is not None:
                if "dialect" not in payload:
                    data["dialect"] = ""
                max_tokens = data.get("max_tokens") or 0
                if "max_tokens" not in payload and max_tokens > spec.max_output_tokens:
                    data["max_tokens"] = None
                if "json_schema" not in payload and not spec.supports_json_schema:
                    data["json_schema"] = None
        return cls(data, instance=instance)

    def clean_model(self) -> str:
        return self.cleaned_data["model"] or DEFAULT_MODEL

    def clean_temperature(self) -> float | None:
        return self._check_unit_range("temperature", TEMPERATURE_RANGE)

    def clean_top_p(self) -> float | None:
        return self._check_unit_range("top_p", TOP_P_RANGE)

    def _check_unit_range(
        self, field: str, bounds: tuple[float, float]
    ) -> float | None:
        value = self.cleaned_data.get(field)
        low, high = bounds
        if value is not None and not (low < value <= high):
            raise forms.ValidationError(
                _("Must be greater than %(low)s and at most %(high)s."),
                code="out_of_range",
                params={"low": low, "high": high},
            )
        return value

    def clean_bot_name(self) -> str:
        return self.cleaned_data["bot_name"] or DEFAULT_BOT_NAME

    def clean_user_name(self) -> str:
        return self.cleaned_data["user_name"] or DEFAULT_USER_NAME

    def clean_json_schema(self) -> dict | None:
        value = self.cleaned_data.get("json_schema")
        if value in (None, "", {}):
            return None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _('The JSON schema must be an object: {"name": ..., "schema": ...}.'),
                code="not_object",
            )
        name = value.get("name")
        if not schema_name_is_valid(name):
            raise forms.ValidationError(
                _(
                    'The schema needs a "name" of 1 to 64 letters, digits or '
                    "underscores."
                ),
                code="bad_name",
            )
        schema = value.get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise forms.ValidationError(
                _('The "schema" must be a JSON Schema whose "type" is "object".'),
                code="bad_schema",
            )
        check_schema(schema)
        description = value.get("description", "")
        if not isinstance(description, str):
            raise forms.ValidationError(
                _('The schema "description" must be text.'), code="bad_description"
            )
        cleaned = {"name": name, "schema": schema}
        if description:
            cleaned["description"] = description
        return cleaned

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        spec = MODELS.get(cleaned.get("model") or "")
        if spec is None:
            return cleaned
        dialect = cleaned.get("dialect") or spec.default_dialect.value
        if dialect not in spec.dialects:
            self.add_error(
                "dialect",
                forms.ValidationError(
                    _("%(model)s does not speak the %(dialect)s API."),
                    code="bad_dialect",
                    params={"model": spec.label, "dialect": dialect},
                ),
            )
        cleaned["dialect"] = dialect
        max_tokens = cleaned.get("max_tokens")
        if max_tokens is not None and not 1 <= max_tokens <= spec.max_output_tokens:
            self.add_error(
                "max_tokens",
                forms.ValidationError(
                    _("%(model)s accepts from 1 to %(max)s tokens."),
                    code="out_of_range",
                    params={"model": spec.label, "max": spec.max_output_tokens},
                ),
            )
        if cleaned.get("json_schema") and not spec.supports_json_schema:
            self.add_error(
                "json_schema",
                forms.ValidationError(
                    _("%(model)s does not accept a JSON schema."),
                    code="unsupported",
                    params={"model": spec.label},
                ),
            )
        return cleaned

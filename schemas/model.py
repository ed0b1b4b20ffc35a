"""The base of every protocol message: strict, frozen, no extra fields, safe errors."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from schemas.errors import InvalidMessage
from schemas.fields import WIRE_CONTEXT, is_wire

_MAX_ERRORS = 5
_MAX_LOC_PART = 40


def all_required(schema: dict[str, Any]) -> None:
    """Mark every property required and drop Python-side defaults from a model's JSON Schema."""
    # On the wire every field is present, nullable ones as null; the schema says so, and
    # Python-side defaults are not wire defaults.
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema["required"] = list(properties)
        for prop in properties.values():
            if isinstance(prop, dict):
                prop.pop("default", None)


def describe_validation_error(model_name: str, exc: ValidationError) -> str:
    """Summarise a pydantic error as field paths and rules, never echoing input values.

    Args:
        model_name: the message being validated, for context.
        exc: the pydantic error.

    Returns:
        A one-line reason, safe to log.
    """
    parts = []
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors[:_MAX_ERRORS]:
        loc = ".".join(
            str(p)[:_MAX_LOC_PART].encode("ascii", "backslashreplace").decode("ascii")
            for p in error["loc"]
        )
        parts.append(f"{loc or '<root>'}: {error['msg']}")
    more = f" (+{len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
    return f"invalid {model_name}: " + "; ".join(parts) + more


class WireModel(BaseModel):
    """Base class of protocol messages and their parts.

    Strict types (no coercion: ``"1"`` is not ``1``, ``true`` is not ``1``), no unknown
    fields, immutable instances. Building one with bad values raises
    :class:`~schemas.errors.InvalidMessage` (never pydantic's error, whose text would echo the
    offending input). Payloads read from the wire must carry every field, nullable ones as
    ``null``; Python callers may leave out fields that have defaults. Fields added to a
    message after cameras shipped are listed in ``wire_optional``: a payload from an older
    camera may leave them out and reads as their default.
    """

    wire_optional: ClassVar[frozenset[str]] = frozenset()

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
        json_schema_extra=all_required,
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidMessage(describe_validation_error(type(self).__name__, exc)) from None

    # Tell pydantic this __init__ only wraps the base one, so model_validate() keeps calling
    # the validator directly (with its context) instead of routing through __init__. This is
    # the same marker pydantic's own RootModel uses.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @model_validator(mode="before")
    @classmethod
    def _wire_fields_present(cls, data: Any, info: ValidationInfo) -> Any:
        if is_wire(info) and isinstance(data, dict):
            missing = [
                name
                for name in cls.model_fields
                if name not in data and name not in cls.wire_optional
            ]
            if missing:
                raise PydanticCustomError(
                    "missing", "missing field(s): {fields}", {"fields": ", ".join(missing)}
                )
        return data

    @classmethod
    def from_wire(cls, obj: object) -> Self:
        """Validate a decoded JSON object as this message, with the wire rules.

        Args:
            obj: the decoded JSON value.

        Returns:
            The validated message.

        Raises:
            InvalidMessage: the object does not match the message.
        """
        try:
            return cls.model_validate(obj, context=WIRE_CONTEXT)
        except ValidationError as exc:
            raise InvalidMessage(describe_validation_error(cls.__name__, exc)) from None

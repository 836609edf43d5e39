"""The base class of every wire model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A model that is read from and written to JSON-RPC messages.

    Unknown fields are rejected so that a typo in a client's params is an error that names
    the field instead of a silently ignored option.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        # Validators are built on first use, not at import: the daemon must answer
        # `initialize` fast and most methods are never called in a given session.
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict for this model, camelCase keys, unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OpenWireModel(WireModel):
    """A wire model that keeps fields it does not know (provider-specific extras)."""

    model_config = ConfigDict(extra="allow")

"""`dspex/index/save` and `dspex/index/forget`: vector indexes kept as named collections in
the durable store and loaded again when a restarted daemon first touches an index."""

from __future__ import annotations

from pydantic import Field

from ._base import WireModel


class IndexSaveParams(WireModel):
    name: str = Field(min_length=1, max_length=200)


class IndexSaveResult(WireModel):
    name: str
    size: int
    dimensions: int


class IndexForgetParams(WireModel):
    name: str = Field(min_length=1, max_length=200)


class IndexForgetResult(WireModel):
    name: str
    forgotten: bool = Field(description="Whether a saved collection of that name existed.")

"""The model catalog: the shipped models.json merged with providers' live model lists."""

from .data import CatalogEntry, catalog_entries, lookup, provider_capabilities, provider_supports

__all__ = [
    "CatalogEntry",
    "catalog_entries",
    "lookup",
    "provider_capabilities",
    "provider_supports",
]

"""Analytics: latency statistics, provider comparison, health and anomalies, similarity
search and the semantic cache, on NumPy or CuPy through the Python array API.

Importing this package does not import NumPy: the daemon starts without it."""

from .service import Analytics

__all__ = ["Analytics"]

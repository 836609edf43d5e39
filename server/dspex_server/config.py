"""Layered configuration: defaults < environment < TOML file < editor settings (< request).

Each layer is a plain dict in the config's own shape; the layers are deep-merged and the
result validated. A layer that does not validate is refused with an error naming the key,
and the previous configuration stays in force: bad config never crashes the daemon.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError

from dspex_protocol import ErrorKind

from .config_file import (
    ConfigFileError,
    Issue,
    Loc,
    as_written,
    dotted,
    file_messages,
    read_toml,
)
from .editor.settings import EditorSettings
from .errors import DspexError
from .providers.settings import (
    CircuitSettings,
    ProviderSettings,
    RetrySettings,
    RouteSettings,
    SettingsModel,
    route_issues,
)
from .providers.table import FALLBACK_PROVIDER, PROVIDER_BY_NAME, PROVIDERS, ProviderSpec
from .sessions.settings import BudgetSettings, CatalogSettings, ContextSettings, SessionSettings

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
SECRET_KEYS = frozenset(
    {
        "apiKey",
        "api_key",
        "awsSecretAccessKey",
        "aws_secret_access_key",
        "awsSessionToken",
        "aws_session_token",
        "token",
        "password",
        "secret",
    }
)


class SemanticCacheSettings(SettingsModel):
    """Opt-in: a chat whose prompt embeds within `threshold` (cosine) of a cached prompt for
    the same provider, model and options is answered from the cache."""

    enabled: bool = False
    threshold: float = Field(default=0.95, gt=0.0, le=1.0)
    max_entries: int = Field(default=1000, gt=0, le=100_000)
    ttl_s: float = Field(default=3600.0, gt=0.0)


class AnalyticsSettings(SettingsModel):
    backend: Literal["auto", "numpy", "cupy"] = "auto"
    window_size: int = Field(default=100, ge=2, le=100_000)
    min_samples: int = Field(default=20, ge=2)
    confidence_threshold: float = Field(default=0.8, gt=0.0, lt=1.0)
    anomaly_threshold: float = Field(default=0.4, gt=0.0)
    similarity_threshold: float = Field(default=0.7, ge=-1.0, le=1.0)
    auto_switch: bool = False
    gpu_min_elements: int = Field(
        default=100_000 * 64,
        gt=0,
        description="`auto` uses CuPy only for work at least this large (elements touched).",
    )
    index_max_vectors: int = Field(default=2_000_000, gt=0)
    semantic_cache: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)


class StoreSettings(SettingsModel):
    """The durable SQLite store (docs/store.md)."""

    enabled: bool = True
    path: str | None = Field(
        default=None, description="Default: the user data dir's dspex/dspex.db."
    )
    log_requests: bool = Field(
        default=True, description="Log every exchange (DSPEX_NO_LOG=1 or --no-log: off)."
    )
    synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="normal: committed rows survive a crash of the daemon (kill -9); "
        "full: also a power loss or OS crash, at an fsync per commit.",
    )
    log_batch_ms: float = Field(
        default=20.0,
        ge=0.0,
        le=1000.0,
        description="How long logged exchanges gather on the event loop before they go to the "
        "writer thread as one batch (each is in the journal before its answer: nothing waits "
        "on this; 0: every loop iteration).",
    )
    flush_max_rows: int = Field(default=256, gt=0, le=100_000)
    flush_interval_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="How long the writer waits for more rows before a commit (0: commit "
        "as soon as the queue is empty; rows queued during a commit share the next one).",
    )


class Settings(SettingsModel):
    default_provider: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    http_transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp",
        description="aiohttp keeps ~0.25 ms client CPU per request at any concurrency; "
        "httpx's own pool degrades under load (see bench/).",
    )
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)
    routes: dict[str, RouteSettings] = Field(
        default_factory=dict, description='Fail-over chains (`provider = "route:NAME"`).'
    )
    telemetry: bool = Field(
        default=False, description="send `dspex/telemetry` notifications to the client"
    )

    def retry_policy(self, name: str) -> RetrySettings:
        """The top-level retry policy with the provider's overrides applied."""
        override = self.provider(name).retry
        if override is None:
            return self.retry
        return self.retry.model_copy(update=override.model_dump(exclude_none=True))

    def circuit_policy(self, name: str) -> CircuitSettings:
        override = self.provider(name).circuit
        if override is None:
            return self.circuit
        return self.circuit.model_copy(update=override.model_dump(exclude_none=True))

    store: StoreSettings = Field(default_factory=StoreSettings)
    editor: EditorSettings = Field(default_factory=EditorSettings)

    def provider(self, name: str) -> ProviderSettings:
        found = self.providers.get(name)
        if found is not None:
            return found
        # Built once per settings class: on the request path, validating a fresh default
        # model cost ~5 µs twice per request (bench/). Treat settings as read-only.
        return _default_settings(PROVIDER_BY_NAME[name].settings_cls)


@functools.cache
def _default_settings(cls: type[ProviderSettings]) -> ProviderSettings:
    return cls()


def _check(data: Mapping[str, Any]) -> tuple[Settings, list[Issue]]:
    """Validate one layer or the merged layers; each provider's block with that provider's
    settings class. Returns the settings and what was refused (empty: all is well)."""
    raw_providers = data.get("providers") or {}
    if not isinstance(raw_providers, Mapping):
        return Settings(), [Issue(("providers",), "must be a table of providers")]
    issues: list[Issue] = []
    providers: dict[str, ProviderSettings] = {}
    for name in raw_providers:
        spec = PROVIDER_BY_NAME.get(name)
        if spec is None:
            issues.append(
                Issue(
                    ("providers", name), f"unknown provider (known: {', '.join(PROVIDER_BY_NAME)})"
                )
            )
            continue
        try:
            providers[name] = spec.settings_cls.model_validate(spec.settings_block(raw_providers))
        except ValidationError as exc:
            issues += [_issue(("providers", name), e) for e in exc.errors()]
    for spec in PROVIDERS:  # a row that is another API of a configured provider
        if spec.api_of in providers and spec.name not in providers:
            # A bad inherited setting is reported on the provider's own block.
            with contextlib.suppress(ValidationError):
                providers[spec.name] = spec.settings_cls.model_validate(
                    spec.settings_block(raw_providers)
                )
    top = {k: v for k, v in data.items() if k != "providers"}
    try:
        settings = Settings.model_validate(top)
    except ValidationError as exc:
        issues += [_issue((), e) for e in exc.errors()]
        settings = Settings()
    if settings.default_provider and settings.default_provider not in PROVIDER_BY_NAME:
        issues.append(
            Issue(
                ("defaultProvider",),
                f"unknown provider {settings.default_provider!r} "
                f"(known: {', '.join(PROVIDER_BY_NAME)})",
            )
        )
    settings.providers = providers
    issues += route_issues(settings.routes, PROVIDER_BY_NAME)
    return settings, issues


def _issue(prefix: Loc, error: Any) -> Issue:
    loc: Loc = (*prefix, *error["loc"])
    if error["type"] == "extra_forbidden":
        from difflib import get_close_matches

        from pydantic.alias_generators import to_snake

        name = to_snake(str(loc[-1]))
        close = get_close_matches(name, _known_names(), n=1, cutoff=0.75)
        return Issue(loc, "unknown key" + (f" (did you mean {close[0]}?)" if close else ""))
    return Issue(loc, str(error["msg"]))


@functools.cache
def _known_names() -> tuple[str, ...]:
    """Every setting's snake_case name, of every section (for "did you mean")."""
    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()
    names: set[str] = set()

    def walk(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for field_name, info in cls.model_fields.items():
            names.add(field_name)
            for arg in _model_types(info.annotation):
                walk(arg)

    walk(Settings)
    for spec in PROVIDERS:
        walk(spec.settings_cls)
    return tuple(sorted(names))


def _model_types(annotation: Any) -> list[type[Any]]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [t for arg in get_args(annotation) for t in _model_types(arg)]


def _validate(data: Mapping[str, Any]) -> Settings:
    settings, issues = _check(data)
    if issues:
        errors = [f"{_loc(i.loc)}: {i.reason}" for i in issues]
        raise DspexError(
            ErrorKind.INVALID_CONFIG,
            "invalid configuration: " + "; ".join(errors),
            details={"errors": errors},
        )
    return settings


def _loc(loc: Loc) -> str:
    return dotted(loc)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        elif value is not None:
            out[key] = value
    return out


def _normalise_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """snake_case → camelCase on every level, so that TOML and editor layers merge."""
    from pydantic.alias_generators import to_camel

    out: dict[str, Any] = {}
    for key, value in data.items():
        new_key = to_camel(key) if isinstance(key, str) and "_" in key else key
        out[new_key] = _normalise_keys(value) if isinstance(value, Mapping) else value
    return out


def env_layer(
    environ: Mapping[str, str], specs: tuple[ProviderSpec, ...] = PROVIDERS
) -> dict[str, Any]:
    providers: dict[str, dict[str, Any]] = {}
    for spec in specs:
        block: dict[str, Any] = {}
        key = next((environ[e] for e in spec.key_envs if environ.get(e)), None)
        if key:
            block["apiKey"] = key
        url = next((environ[e] for e in spec.base_url_env_names() if environ.get(e)), None)
        if url:
            block["baseUrl"] = url
        for setting, names in spec.setting_envs.items():
            value = next((environ[e] for e in names if environ.get(e)), None)
            if value:
                block[setting] = value
        if block:
            providers[spec.name] = block
    layer: dict[str, Any] = {"providers": providers}
    if environ.get("DSPEX_DEFAULT_PROVIDER"):
        layer["defaultProvider"] = environ["DSPEX_DEFAULT_PROVIDER"]
    if environ.get("DSPEX_LOG_LEVEL"):
        layer["logLevel"] = environ["DSPEX_LOG_LEVEL"].lower()
    if environ.get("DSPEX_HTTP_TRANSPORT"):
        layer["httpTransport"] = environ["DSPEX_HTTP_TRANSPORT"].lower()
    store: dict[str, Any] = {}
    if environ.get("DSPEX_NO_LOG", "").strip().lower() not in ("", "0", "false", "no"):
        store["logRequests"] = False
    if environ.get("DSPEX_STORE_PATH"):
        store["path"] = environ["DSPEX_STORE_PATH"]
    if store:
        layer["store"] = store
    if environ.get("DSPEX_ANALYTICS_BACKEND"):
        layer["analytics"] = {"backend": environ["DSPEX_ANALYTICS_BACKEND"].lower()}
    return layer


def config_file_path(environ: Mapping[str, str]) -> Path:
    if environ.get("DSPEX_CONFIG"):
        return Path(environ["DSPEX_CONFIG"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("dspex")) / "config.toml"


def _keys_layer(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """(label, layer) of the keys kept by `dspex keys`; an unreadable file is a problem
    recorded like a bad config file, never a crash."""
    from .store.keys import KeysError, keys_file, keys_layer

    path = keys_file(environ)
    try:
        return f"keys:{path}", keys_layer(environ)
    except KeysError as exc:
        raise DspexError(ErrorKind.INVALID_CONFIG, str(exc)) from None


@dataclass
class Layer:
    name: str
    data: dict[str, Any]


@dataclass(frozen=True)
class FileSource:
    """Where a layer was read from, to name a refused key by its line."""

    path: Path
    text: str


LayerName = Literal["keys", "env", "file", "initializationOptions", "workspace"]
# `keys` (kept by `dspex keys`) is below the environment: an exported key wins.
_ORDER: tuple[LayerName, ...] = ("keys", "env", "file", "initializationOptions", "workspace")
_FILE_LAYERS: tuple[LayerName, ...] = ("keys", "file")


def _refusal(messages: list[str]) -> DspexError:
    return DspexError(ErrorKind.INVALID_CONFIG, "; ".join(messages), details={"errors": messages})


class ConfigStore:
    """Holds the layers and the validated settings built from them.

    A layer that does not validate is refused whole and the previous one stays in force;
    `refused` keeps why, per layer, until the layer is set again successfully."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self.environ: Mapping[str, str] = self._environ
        self._layers: dict[LayerName, Layer] = {}
        self.refused: dict[LayerName, list[str]] = {}
        self.settings = Settings()
        try:
            label, keys = _keys_layer(self._environ)
            if keys["providers"]:  # listed in `sources` only when it holds a key
                self._set_quietly("keys", label, keys)
        except DspexError as exc:
            self._record("keys", exc)
        self._set_quietly("env", "environment", env_layer(self._environ))
        path = config_file_path(self._environ)
        try:
            data, text = read_toml(path, required=bool(self._environ.get("DSPEX_CONFIG")))
        except ConfigFileError as exc:
            self._record("file", _refusal(exc.messages))
        else:
            self._set_quietly("file", f"file:{path}", data, FileSource(path, text))

    @property
    def problems(self) -> list[str]:
        """Why each refused layer was refused, one message per refused key."""
        return [m for name in _ORDER for m in self.refused.get(name, ())]

    def _record(self, layer: LayerName, exc: DspexError) -> None:
        messages = list((exc.details or {}).get("errors") or [exc.message])
        for message in messages:
            # Reported loudly elsewhere (window/showMessage, dspex/config, the CLI).
            log.info("invalid_config: %s", message)
        self.refused[layer] = messages

    def _set_quietly(
        self,
        layer: LayerName,
        label: str,
        data: Mapping[str, Any],
        source: FileSource | None = None,
    ) -> None:
        try:
            self.set_layer(layer, data, label=label, source=source)
        except DspexError as exc:
            self._record(layer, exc)

    def set_layer(
        self,
        layer: LayerName,
        data: Mapping[str, Any] | None,
        *,
        label: str | None = None,
        source: FileSource | None = None,
    ) -> None:
        """Replace one layer; raises DspexError(invalid_config) and keeps the old one if bad.
        The error names each refused key as the layer wrote it (with its line for a file)."""
        if data is not None and not isinstance(data, Mapping):
            raise DspexError(ErrorKind.INVALID_CONFIG, f"{layer}: settings must be an object")
        candidate = dict(self._layers)
        own = _normalise_keys(data or {})
        candidate[layer] = Layer(label or layer, own)
        merged: dict[str, Any] = {}
        for name in _ORDER:
            if name in candidate:
                merged = deep_merge(merged, candidate[name].data)
        settings, issues = _check(merged)
        if issues:
            raise _refusal(self._messages(layer, data or {}, own, issues, source))
        self.settings = settings
        self._layers = candidate
        self.refused.pop(layer, None)

    @staticmethod
    def _messages(
        layer: LayerName,
        raw: Mapping[str, Any],
        own: Mapping[str, Any],
        merged_issues: list[Issue],
        source: FileSource | None,
    ) -> list[str]:
        _, issues = _check(own)  # the layer's own faults, named as it wrote them
        if not issues:  # only the merge is wrong: name the merged keys
            return [f"{layer}: {_loc(i.loc)}: {i.reason}" for i in merged_issues]
        if source is not None:
            return file_messages(source.path, source.text, raw, issues)
        return [f"{layer}: {dotted(as_written(raw, i.loc))}: {i.reason}" for i in issues]

    def set_editor_settings(self, layer: LayerName, data: Any) -> None:
        """Editor settings may be nested under a `dspex` key (VS Code's section)."""
        if isinstance(data, Mapping) and isinstance(data.get("dspex"), Mapping):
            data = data["dspex"]
        try:
            self.set_layer(layer, data)
        except DspexError as exc:
            self._record(layer, exc)
            raise

    def sources(self) -> list[str]:
        return ["defaults", *(self._layers[n].name for n in _ORDER if n in self._layers)]

    def redacted(self) -> dict[str, Any]:
        dumped = self.settings.model_dump(mode="json", by_alias=True)
        for name, block in self.settings.providers.items():
            dumped["providers"][name] = block.model_dump(mode="json", by_alias=True)
        clean: dict[str, Any] = redact(dumped)
        return clean

    # -- provider resolution -----------------------------------------------------------

    def configured(self, name: str) -> bool:
        spec = PROVIDER_BY_NAME.get(name)
        if spec is None:
            return False
        settings = self.settings.provider(name)
        if not spec.module_installed():
            return False
        if spec.configured_by:
            return any(getattr(settings, f, None) for f in spec.configured_by)
        if spec.requires_module is not None:
            return True
        if not spec.needs_key:
            # Local servers count as configured when their base URL was given; the mock
            # always is.
            return spec.wire_format == "mock" or settings.base_url is not None
        if self.api_key(name) is not None:
            return True
        if spec.wire_format == "openai_compat" and settings.base_url is not None:
            # A base URL alone: a key-less OpenAI-compatible server (LM Studio, llama.cpp's
            # server, vLLM, Ollama's /v1). A server that wants a key answers 401, and the
            # error says that no key was sent.
            return True
        return bool(spec.credential_settings) and all(
            getattr(settings, f, None) for f in spec.credential_settings
        )

    def not_configured(self, name: str) -> DspexError:
        """provider_not_configured, saying exactly what is missing and how to give it."""
        spec = PROVIDER_BY_NAME[name]
        config_key = f"providers.{name}"
        if not spec.module_installed():
            hint = spec.install_hint or f"pip install {spec.requires_module}"
            what = f"needs the {spec.requires_module} module ({hint})"
        elif spec.configured_by:
            keys = " or ".join(f"{config_key}.{f}" for f in spec.configured_by)
            variables = [e for names in spec.setting_envs.values() for e in names]
            what = f"needs a model: set {keys}"
            if variables:
                what += f" (or {', '.join(variables)})"
        elif not spec.needs_key:
            envs = " or ".join(spec.base_url_env_names()[:2])
            what = f"needs its server's base URL: set {envs} (or {config_key}.base_url)"
        else:
            keys = " or ".join(spec.key_envs) or f"{config_key}.api_key"
            what = f"needs an API key and none is set: set {keys} (or {config_key}.api_key)"
            if spec.credential_settings:
                what += (
                    f", or {' and '.join(f'{config_key}.{c}' for c in spec.credential_settings)}"
                )
            if spec.wire_format == "openai_compat":
                base = spec.base_url_env_names()[-1]
                what += f"; for a server that needs no key, set {base} alone"
        return DspexError(
            ErrorKind.PROVIDER_NOT_CONFIGURED, f"provider {name!r} {what}", provider=name
        )

    def refuse_fallback(self) -> None:
        """A request that names no provider is never answered by the mock just because a
        refused file (the config file, the keys file) might have configured one. Refused
        editor settings are answered at once with window/showMessage, and the editor's
        previous settings stay in force."""
        files = [m for name in _FILE_LAYERS for m in self.refused.get(name, ())]
        if files:
            raise DspexError(
                ErrorKind.INVALID_CONFIG,
                "; ".join(files)
                + " (the configuration was refused, so no provider is chosen for a request "
                "that names none; fix it, or pass a provider)",
            )

    def api_key(self, name: str) -> str | None:
        key = self.settings.provider(name).api_key
        return key.get_secret_value() if key is not None else None

    def default_provider(self) -> tuple[str, bool]:
        """The provider for a request that names none, and whether it is the fallback."""
        chosen = self.settings.default_provider
        if chosen:
            return chosen, False
        for spec in PROVIDERS:
            if (
                spec.name != FALLBACK_PROVIDER
                and "chat" in spec.capabilities
                and self.configured(spec.name)
            ):
                return spec.name, False
        return FALLBACK_PROVIDER, True


def redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if k in SECRET_KEYS and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, SecretStr):
        return REDACTED
    return value

"""Load settings: YAML file below, TOCSIN_* environment above, relative paths against the file's folder."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from daemon.config.settings import Settings

DEFAULT_CONFIG = "tocsin.yml"
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("tocsin_environ", default=None)


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` name each offending key and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


class _EnvSource(EnvSettingsSource):
    """TOCSIN_* variables; a list may be given comma-separated (TOCSIN_API_TOKENS=a,b) as well as in JSON."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        source = os.environ if self._given is None else self._given
        return {key.lower(): value for key, value in source.items()}

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError:
            if field is not None and _is_list(field.annotation) and isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
            raise


class _Settings(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file, which reaches us as init arguments.
        return (_EnvSource(settings_cls, _environ.get()), init_settings)


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        key = ""
        for part in err["loc"]:
            if part == "[key]":  # pydantic's marker for a bad dict key; the key itself is already in the path
                continue
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        # A model validator may already name the full key path (severity.rules[4].name: ...).
        if not key or message.startswith((f"{key}.", f"{key}[")):
            problems.append(message)
        else:
            problems.append(f"{key}: {message}")
    return problems


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys"])
    return data


def _resolve_store(url: str, base: Path) -> str:
    if not url.startswith("sqlite://"):
        return url
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them.
    rest, sep, query = url.removeprefix("sqlite://").partition("?")
    path = Path(rest.removeprefix("/"))
    if not path.is_absolute():
        path = (base / path).resolve()
    return f"sqlite:///{path}" + (sep + query if sep else "")


def _drop_overridden(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """A key given in the environment replaces the file's value whole: pydantic-settings would merge a mapping
    (TOCSIN_SOURCES__PAGERDUTY__INTEGRATIONS='{"key": ...}' would keep the file's example integrations too)."""
    for name in env:
        if not name.upper().startswith("TOCSIN_"):
            continue
        path = name[len("TOCSIN_") :].lower().split("__")
        node: Any = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)


def load_settings(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or TOCSIN_CONFIG, or nothing) with the environment on top; raise ConfigError."""
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get("TOCSIN_CONFIG") or None
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        data = _read_yaml(file)
        base = file.resolve().parent
    _drop_overridden(data, env)
    token = _environ.set(environ)
    try:
        settings: Settings = _Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
    finally:
        _environ.reset(token)
    update: dict[str, Any] = {"store": _resolve_store(settings.store, base)}
    for key in ("channels", "templates"):
        value = getattr(settings, key)
        if value is not None and not Path(value).is_absolute():
            update[key] = str((base / value).resolve())
    tls = {
        key: str((base / value).resolve()) if value and not Path(value).is_absolute() else value
        for key, value in (("cert_file", settings.tls.cert_file), ("key_file", settings.tls.key_file))
    }
    update["tls"] = settings.tls.model_copy(update=tls)
    return settings.model_copy(update=update)


def settings_json(settings: Settings) -> str:
    """The effective settings with secrets masked, for `tocsin check-config --show`."""
    return json.dumps(settings.model_dump(mode="json", by_alias=True), indent=2)

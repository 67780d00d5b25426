"""Loading settings: built-in defaults ← TOML file ← environment. Bad values fail fast, naming the key."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from huifang.config_checks import ConfigError, validate
from kit.calendar import YearTable
from kit.settings import Settings

__all__ = ["ConfigError", "load_settings", "read_secret_file", "validate"]

DEFAULT_CONFIG_PATH = Path("config.toml")
ENV_PREFIX = "HUIFANG__"  # HUIFANG__SECTION__KEY=value (value parsed as TOML when it can be)
ENV_SHORTCUTS = {"HUIFANG_DATABASE_URL": ("database", "url")}
# Secrets read from a file the environment names (a systemd credential, a mounted secret); never printed.
SECRET_FILES = {"HUIFANG_TWILIO_AUTH_TOKEN_FILE": ("twilio", "auth_token"),
                "HUIFANG_NOTIFICATIONS_SECRET_FILE": ("notifications", "secret")}
# Secrets taken as they are (never read as TOML: a secret of digits stays a string).
SECRET_VARIABLES = {"HUIFANG_NOTIFICATIONS_SECRET": ("notifications", "secret")}


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (or ./config.toml when it exists), apply environment overrides, validate."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _read_toml(path)
    elif DEFAULT_CONFIG_PATH.is_file():
        data = _read_toml(DEFAULT_CONFIG_PATH)
    _apply_environment(data, environ)
    calendar_data = data.pop("calendar", {})
    settings = _build(Settings, data, "")
    settings = dataclasses.replace(settings, calendar=_build_calendar(calendar_data))
    validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    overrides: list[tuple[tuple[str, ...], str]] = []
    for name, raw in environ.items():
        if name in ENV_SHORTCUTS:
            overrides.append((ENV_SHORTCUTS[name], raw))
        elif name.startswith(ENV_PREFIX):
            overrides.append((tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__")), raw))
    secrets = [(keys, environ[name].strip()) for name, keys in SECRET_VARIABLES.items() if environ.get(name, "").strip()]
    secrets += [(keys, read_secret_file(name, environ[name])) for name, keys in SECRET_FILES.items()
                if environ.get(name, "").strip()]  # a file wins over a variable
    for keys, value in [*((k, _parse_env_value(raw)) for k, raw in overrides), *secrets]:
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment override {'.'.join(keys)}: {key} is not a table")
        node[keys[-1]] = value


def read_secret_file(variable: str, path: str) -> str:
    """The secret in the file `variable` names, stripped; the error names the variable and the file, never
    what is in it."""
    try:
        value = Path(path.strip()).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{variable}: cannot read {path.strip()}: {getattr(exc, 'strerror', None) or exc}") from None
    if not value:
        raise ConfigError(f"{variable}: {path.strip()} is empty")
    return value


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    unknown = sorted(set(data) - {f.name for f in fields})
    if unknown:
        raise ConfigError(f"unknown config key {_join(path, unknown[0])}")
    values = {name: _convert(hints[name], value, _join(path, name)) for name, value in data.items()}
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(f"{path}: missing key {missing[0]}")
    if required:
        return cls(**values)
    base = cls()
    for name, value in values.items():
        current = getattr(base, name)
        if isinstance(current, dict) and isinstance(value, dict):
            values[name] = {**current, **value}  # a partial table keeps the other defaults
    return dataclasses.replace(base, **values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {value!r}")
        return {
            _convert(key_type, k, _join(path, k)): _convert(value_type, v, _join(path, k)) for k, v in value.items()
        }
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return tuple(_convert(item_type, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{path}: unsupported type")  # pragma: no cover - no such setting today
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in hint)  # type: ignore[attr-defined]
            raise ConfigError(f"{path}: {value!r} is not one of {allowed}") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported type {hint!r}")  # pragma: no cover


def _build_calendar(data: Any) -> dict[int, YearTable]:
    if not isinstance(data, dict):
        raise ConfigError("calendar: expected a table")
    unknown = sorted(set(data) - {"years"})
    if unknown:
        raise ConfigError(f"unknown config key calendar.{unknown[0]}")
    years: dict[int, YearTable] = {}
    for year_key, table in data.get("years", {}).items():
        path = f"calendar.years.{year_key}"
        try:
            year = int(year_key)
        except ValueError:
            raise ConfigError(f"{path}: the key must be a year such as 2027") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: expected a table with holidays and workdays")
        extra = sorted(set(table) - {"holidays", "workdays"})
        if extra:
            raise ConfigError(f"unknown config key {path}.{extra[0]}")
        years[year] = YearTable(
            holidays=_dates(table.get("holidays", []), f"{path}.holidays", year),
            workdays=_dates(table.get("workdays", []), f"{path}.workdays", year),
        )
    return years


def _dates(values: Any, path: str, year: int) -> frozenset[date]:
    if not isinstance(values, list):
        raise ConfigError(f"{path}: expected a list of dates")
    out: set[date] = set()
    for i, value in enumerate(values):
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"{path}[{i}]: {value!r} is not a YYYY-MM-DD date") from None
        if not isinstance(value, date):
            raise ConfigError(f"{path}[{i}]: expected a date, got {value!r}")
        if value.year != year:
            raise ConfigError(f"{path}[{i}]: {value} is not in {year}")
        out.add(value)
    return frozenset(out)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)

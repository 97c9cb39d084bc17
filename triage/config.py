"""Where Triage keeps its files, and the client's settings.

Paths come from platformdirs (app name ``triage``); ``TRIAGE_HOME`` replaces
both the config and the data directory, for tests and separate profiles.

``config.toml`` (in the config directory) holds the settings; the token lives
on its own in the ``token`` file (mode 0600) so that the config can be shown or
shared without leaking it. ``TRIAGE_SERVER_URL`` and ``TRIAGE_TOKEN`` win over
both files.

Import-time cheap on purpose: stdlib only (platformdirs is imported when a
path is first resolved).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

APP_NAME = "triage"
CONFIG_NAME = "config.toml"
TOKEN_NAME = "token"
DEFAULT_SYNC_INTERVAL = 180.0

ENV_HOME = "TRIAGE_HOME"
ENV_SERVER_URL = "TRIAGE_SERVER_URL"
ENV_TOKEN = "TRIAGE_TOKEN"


class ConfigError(Exception):
    """A setting or file that cannot be used; the message names the file and the problem."""


# ---------------------------------------------------------------- paths


@dataclass(frozen=True, slots=True)
class Paths:
    """The directories of one profile. ``home`` is ``TRIAGE_HOME`` when it is set."""

    config_dir: Path
    data_dir: Path
    home: Path | None = None

    @classmethod
    def under(cls, home: Path | str) -> Paths:
        """Everything in one directory (what ``TRIAGE_HOME`` does)."""
        root = Path(home).expanduser()
        return cls(config_dir=root, data_dir=root, home=root)

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_NAME

    @property
    def token_file(self) -> Path:
        return self.config_dir / TOKEN_NAME

    @property
    def db_file(self) -> Path:
        return self.data_dir / "triage.db"

    @property
    def server_db_file(self) -> Path:
        return self.data_dir / "server.db"


def paths_from_env(environ: Mapping[str, str] = os.environ) -> Paths:
    home = environ.get(ENV_HOME, "").strip()
    if home:
        return Paths.under(home)
    import platformdirs  # deferred: only needed when no TRIAGE_HOME

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
    )


# ---------------------------------------------------------------- settings

VIEW_SORTS = (
    "sla",
    "score",
    "age",
    "name",
    "company",
    "account",
)  # the store's (Store.SORTS), each may
# start with "-" (the other way round); a test keeps the two lists equal
MAX_VIEWS = 9  # recalled by the digits 1-9 on the queue
QUEUE_COLUMNS = ("score", "suggestion", "name", "title", "company", "source", "bant", "age")
# the default order; `[queue] columns` picks and orders them (the mark column always comes
# first). The suggestion column shows only while the policy shows suggestions and a lead
# has one; in the default columns it gives way on a narrow terminal (under 76 cells).


@dataclass(frozen=True, slots=True)
class SavedView:
    """A filter and a sort the rep named (`[[views]]` in config.toml)."""

    name: str
    filter: str = ""  # the filter language's text, as typed after /
    sort: str = "sla"  # a VIEW_SORTS name, "-" first for the other way round


@dataclass(slots=True)
class Settings:
    server_url: str | None = None
    token: str | None = None
    insecure: bool = False
    sync_interval_seconds: float = DEFAULT_SYNC_INTERVAL
    keys: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    # The queue of the server and rep of the last login: a path under the data directory
    # (stores/<server>/<rep>/triage.db); None: triage.db at its top (before 0.2, or never
    # logged in). Written by `triage login`; each server and rep keeps a queue of its own.
    store: str | None = None
    views: list[SavedView] = field(default_factory=list)  # [[views]], in the order of their keys
    columns: tuple[str, ...] = QUEUE_COLUMNS  # [queue] columns: shown, in this order
    # The file these settings were read from (None: made in code): where a saved view goes.
    config_file: Path | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # the token never reaches a log or a traceback
        token = None if self.token is None else "'***'"
        return (
            f"Settings(server_url={self.server_url!r}, token={token}, "
            f"insecure={self.insecure!r}, sync_interval_seconds={self.sync_interval_seconds!r}, "
            f"keys={self.keys!r}, theme={self.theme!r}, store={self.store!r}, "
            f"views={self.views!r}, columns={self.columns!r})"
        )

    def db_path(self, paths: Paths) -> Path:
        """The queue (local store) these settings open."""
        return paths.data_dir / self.store if self.store else paths.db_file

    __str__ = __repr__


def _read_config(path: Path) -> dict[str, Any]:
    """The raw table of config.toml ({} when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _settings_from_table(data: Mapping[str, Any], where: Path) -> Settings:
    problems: list[str] = []

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            problems.append(f"{key} must be text")
            return None
        return value.strip() or None

    settings = Settings(server_url=text("server_url"), theme=text("theme"), store=text("store"))
    if settings.store is not None and (
        Path(settings.store).is_absolute() or ".." in Path(settings.store).parts
    ):
        problems.append("store must be a path inside the data directory (written by login)")
        settings.store = None
    insecure = data.get("insecure", False)
    if isinstance(insecure, bool):
        settings.insecure = insecure
    else:
        problems.append("insecure must be true or false")
    interval = data.get("sync_interval_seconds", DEFAULT_SYNC_INTERVAL)
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        problems.append("sync_interval_seconds must be a positive number of seconds")
    else:
        settings.sync_interval_seconds = float(interval)
    keys = data.get("keys", {})
    if not isinstance(keys, Mapping):
        problems.append('keys must be a table ([keys]) of binding id = "key"')
    else:
        for binding, value in keys.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value = ",".join(value)
            if not isinstance(value, str) or not value.strip():
                problems.append(f'keys.{binding} must be a key name such as "ctrl+r" or "a,enter"')
                continue
            settings.keys[binding] = value.strip()
    settings.views = _views_from_table(data.get("views", []), problems)
    queue = data.get("queue", {})
    if not isinstance(queue, Mapping):
        problems.append("queue must be a table ([queue] with columns = [...])")
    elif "columns" in queue:
        settings.columns = _columns(queue["columns"], problems)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return settings


def _views_from_table(views: Any, problems: list[str]) -> list[SavedView]:
    """`[[views]]`: each a name, a filter (text) and a sort (VIEW_SORTS, maybe "-" first)."""
    if not isinstance(views, list) or not all(isinstance(v, Mapping) for v in views):
        problems.append('views must be tables ([[views]] with name = "...", filter, sort)')
        return []
    out: list[SavedView] = []
    for n, view in enumerate(views, 1):
        name, flt, sort = view.get("name"), view.get("filter", ""), view.get("sort", "sla")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"views: view {n} needs a name")
        elif not isinstance(flt, str):
            problems.append(f"views: {name!r}: filter must be text")
        elif not isinstance(sort, str) or sort.removeprefix("-") not in VIEW_SORTS:
            problems.append(
                f"views: {name!r}: sort must be one of {', '.join(VIEW_SORTS)} (- first reverses)"
            )
        else:
            out.append(SavedView(name.strip(), flt.strip(), sort))
    if len(out) > MAX_VIEWS:
        problems.append(f"views: at most {MAX_VIEWS} (the digits 1-9 recall them)")
    return out


def _columns(columns: Any, problems: list[str]) -> tuple[str, ...]:
    """`[queue] columns`: some of QUEUE_COLUMNS, each once, name among them."""
    known = ", ".join(QUEUE_COLUMNS)
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        problems.append(f"queue.columns must be a list of column names ({known})")
        return QUEUE_COLUMNS
    names = [c.strip().lower() for c in columns]
    unknown = [c for c in names if c not in QUEUE_COLUMNS]
    if unknown:
        problems.append(f"queue.columns: unknown {', '.join(map(repr, unknown))} (known: {known})")
    elif len(set(names)) != len(names):
        problems.append("queue.columns: a column is named twice")
    elif "name" not in names:
        problems.append("queue.columns must include name (the lead's name)")
    else:
        return tuple(names)
    return QUEUE_COLUMNS


def save_views(path: Path, views: list[SavedView]) -> None:
    """Write `views` as config.toml's `[[views]]` (the file's other keys kept), atomically,
    mode 0600 (a new config dir is made 0700). Raises ConfigError, OSError."""
    _make_private_dir(path.parent)
    data = _read_config(path)
    data.pop("views", None)
    if views:
        data["views"] = [{"name": v.name, "filter": v.filter, "sort": v.sort} for v in views]
    _write_atomic(path, dumps_toml(data).encode("utf-8"))


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read the token: {reason}") from None
    return token or None


def load_settings(paths: Paths, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from config.toml, the token file and the environment (which wins)."""
    settings = _settings_from_table(_read_config(paths.config_file), paths.config_file)
    settings.config_file = paths.config_file
    env_url = environ.get(ENV_SERVER_URL, "").strip()
    if env_url:
        settings.server_url = env_url
    env_token = environ.get(ENV_TOKEN, "").strip()
    settings.token = env_token or _read_token(paths.token_file)
    return settings


# ---------------------------------------------------------------- saving


def save_login(
    paths: Paths, server_url: str, token: str, insecure: bool = False, store: str | None = None
) -> None:
    """Remember a server and its token (and the queue of that server and rep, `store`).

    config.toml gets server_url, insecure and store and keeps its other keys; the token
    goes to its own file, mode 0600, written atomically; a new config dir is made 0700.
    """
    server_url = check_server_url(server_url, insecure)
    token = token.strip()
    if not token:
        raise ConfigError("the token is empty")
    if any(c.isspace() for c in token):
        raise ConfigError("the token must not contain spaces or line breaks")
    _make_private_dir(paths.config_dir)
    data = _read_config(paths.config_file)
    data["server_url"] = server_url
    data["insecure"] = bool(insecure)
    if store is None:
        data.pop("store", None)
    else:
        data["store"] = store
    _write_atomic(paths.config_file, dumps_toml(data).encode("utf-8"))
    _write_atomic(paths.token_file, (token + "\n").encode("utf-8"))


def store_name(server_url: str, server_id: str | None, email: str) -> str:
    """Where the queue of one rep on one server lives, under the data directory:
    stores/<host>[-<port>]-<8 of the server's id, or of its URL's hash>/<email>/triage.db.
    A reinstalled server (another id) at the same address gets a queue of its own."""
    parts = urlsplit(server_url)
    host = (parts.hostname or "server").lower()
    if parts.port:
        host += f"-{parts.port}"
    ident = (server_id or hashlib.sha256(server_url.encode()).hexdigest())[:8]
    safe = re.sub(r"[^a-z0-9@._+-]", "_", email.lower())
    return f"stores/{re.sub(r'[^a-z0-9._-]', '_', host)}-{ident}/{safe}/triage.db"


def _make_private_dir(path: Path) -> None:
    ensure_private_dir(path)


# ---------------------------------------------------------------- private files
#
# Leads, phone numbers and notes live in Triage's databases; on a shared host nobody but
# their owner may read them, whatever the umask. Both sides use these: the client's store
# (triage.store) and the server's SQLite file (triage.server.db).

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# What SQLite keeps beside a database: it makes them with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _open_to_others(path: Path) -> int:
    """The permission bits of `path` that let group or others in (0: none)."""
    return os.stat(path).st_mode & 0o077


def _tighten(path: Path) -> None:
    """Take group's and others' permissions off `path` (the owner's stay as they are)."""
    mode = os.stat(path).st_mode
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def ensure_private_dir(path: Path | str) -> None:
    """Triage's own directory: made 0700 whatever the umask (its parents as the umask
    says), or taken to 0700 when group or others may enter it. Raises OSError."""
    path = Path(path).expanduser()
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
    _tighten(path)


def loose_dir_warning(path: Path | str) -> str | None:
    """For a directory someone chose (`--db`): a warning when group or others may read
    it, and nothing changed; None when it is private."""
    path = Path(path)
    try:
        bits = _open_to_others(path)
    except OSError:
        return None
    if not bits:
        return None
    return (
        f"{path} is open to other users (mode {os.stat(path).st_mode & 0o777:o}); "
        f"the database in it is 0600, but consider chmod 700 {path}"
    )


def ensure_private_db_file(path: Path | str) -> None:
    """Make the database file `path` 0600 before SQLite does (SQLite gives its -wal and
    -shm files the database's own mode), or take an existing one and its companions to
    owner-only. Raises OSError.

    An existing file is never opened here: closing any descriptor of a database file drops
    every POSIX lock this process holds on it, its SQLite connections' included. A new one
    is made under a temporary name, closed, then linked into place, so no descriptor of
    ours is open on it by the time SQLite can see it.
    """
    path = Path(path)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.new")
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # made meanwhile by another process: tightened below
        except OSError:  # a file system without hard links
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    for name in ("", *SQLITE_COMPANIONS):
        try:
            _tighten(path.with_name(path.name + name))
        except FileNotFoundError:
            pass


def _write_atomic(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a 0600 temp file, fsync and rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- a small TOML writer

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v, where)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    raise ConfigError(f"cannot write {where} = {value!r} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """TOML text for `data` (what tomllib gives back, round-trips through tomllib.loads)."""
    lines: list[str] = []
    _dump_table(data, (), lines)
    return "\n".join(lines).strip("\n") + "\n"


def _dump_table(data: Mapping[str, Any], prefix: tuple[str, ...], lines: list[str]) -> None:
    nested = {k: v for k, v in data.items() if isinstance(v, Mapping) or _is_table_array(v)}
    for key, value in data.items():
        if key not in nested:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, '.'.join((*prefix, key)))}")
    for key, value in nested.items():
        path = (*prefix, key)
        header = ".".join(_toml_key(k) for k in path)
        if isinstance(value, Mapping):
            lines.extend(["", f"[{header}]"])
            _dump_table(value, path, lines)
        else:
            for item in value:
                lines.extend(["", f"[[{header}]]"])
                _dump_table(item, path, lines)


# ---------------------------------------------------------------- server URL


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def check_server_url(url: str, insecure: bool = False) -> str:
    """The server URL, normalised (no trailing /); refuses what would leak the token."""
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ConfigError(f"not a server URL: {raw!r} (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(
            f"not a server URL: {raw!r} (expected https://HOST[:PORT], "
            "or http:// for a server on this machine)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"the server URL must not carry ?query or #fragment: {raw!r}")
    if parts.username or parts.password:
        raise ConfigError("the server URL must not carry a user name or password; use the token")
    if scheme == "http" and not insecure and not _is_loopback(parts.hostname):
        raise ConfigError(f"refusing plain http to {parts.hostname}; use https or pass --insecure")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

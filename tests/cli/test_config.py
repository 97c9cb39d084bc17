"""Paths, settings, the token file and the server URL check (triage.config)."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

import triage.config as config_module
from triage.config import (
    ConfigError,
    Paths,
    Settings,
    check_server_url,
    dumps_toml,
    load_settings,
    paths_from_env,
    save_login,
)

TOKEN = "tok_" + "x" * 40


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.under(tmp_path / "home")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- paths


def test_triage_home_holds_everything(tmp_path: Path) -> None:
    p = paths_from_env({"TRIAGE_HOME": str(tmp_path)})
    assert p.home == tmp_path
    assert p.config_file == tmp_path / "config.toml"
    assert p.token_file == tmp_path / "token"
    assert p.db_file == tmp_path / "triage.db"
    assert p.server_db_file == tmp_path / "server.db"


def test_without_triage_home_platformdirs_are_used() -> None:
    import platformdirs

    p = paths_from_env({})
    assert p.home is None
    assert p.config_dir == Path(platformdirs.user_config_dir("triage"))
    assert p.db_file == Path(platformdirs.user_data_dir("triage")) / "triage.db"


def test_empty_triage_home_is_ignored() -> None:
    assert paths_from_env({"TRIAGE_HOME": "  "}).home is None


# ---------------------------------------------------------------- settings


def test_defaults_without_files(paths: Paths) -> None:
    s = load_settings(paths, {})
    assert s == Settings()
    assert s.sync_interval_seconds == 180
    assert s.token is None and s.server_url is None and s.insecure is False


def test_file_values(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(
        'server_url = "https://triage.example.com"\n'
        "insecure = false\n"
        "sync_interval_seconds = 60\n"
        'theme = "nord"\n'
        "[keys]\n"
        'accept = "A"\n'
        'quit = ["q", "ctrl+q"]\n'
    )
    paths.token_file.write_text(f"  {TOKEN}\n")
    s = load_settings(paths, {})
    assert s.server_url == "https://triage.example.com"
    assert s.token == TOKEN
    assert s.sync_interval_seconds == 60.0
    assert s.theme == "nord"
    assert s.keys == {"accept": "A", "quit": "q,ctrl+q"}


def test_environment_wins_over_files(paths: Paths) -> None:
    save_login(paths, "https://file.example.com", TOKEN)
    env = {"TRIAGE_SERVER_URL": "https://env.example.com", "TRIAGE_TOKEN": "env-token"}
    s = load_settings(paths, env)
    assert s.server_url == "https://env.example.com"
    assert s.token == "env-token"
    # empty variables do not count
    s = load_settings(paths, {"TRIAGE_SERVER_URL": "", "TRIAGE_TOKEN": ""})
    assert s.server_url == "https://file.example.com"
    assert s.token == TOKEN


def test_token_never_in_repr(paths: Paths) -> None:
    s = Settings(server_url="https://x.example.com", token=TOKEN)
    assert TOKEN not in repr(s)
    assert TOKEN not in str(s)
    assert "***" in repr(s)
    assert "token=None" in repr(Settings())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("server_url = [", "not valid TOML"),
        ("server_url = 42", "server_url must be text"),
        ('insecure = "yes"', "insecure must be true or false"),
        ("sync_interval_seconds = -1", "sync_interval_seconds must be a positive number"),
        ("sync_interval_seconds = true", "sync_interval_seconds must be a positive number"),
        ('keys = "a"', "keys must be a table"),
        ("[keys]\naccept = 1", "keys.accept must be a key name"),
    ],
)
def test_bad_config_names_file_and_problem(paths: Paths, text: str, problem: str) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(paths, {})
    assert "config.toml" in str(err.value)
    assert problem in str(err.value)


def test_config_that_is_not_text(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings(paths, {})


# ---------------------------------------------------------------- save_login


def test_save_login_file_modes(paths: Paths) -> None:
    save_login(paths, "https://triage.example.com/", TOKEN)
    assert mode(paths.config_dir) == 0o700
    assert mode(paths.token_file) == 0o600
    assert paths.token_file.read_text().strip() == TOKEN
    s = load_settings(paths, {})
    assert s.server_url == "https://triage.example.com"  # normalised
    assert s.token == TOKEN
    assert not list(paths.config_dir.glob("*.tmp"))


def test_save_login_replaces_token_and_keeps_mode(paths: Paths) -> None:
    save_login(paths, "https://a.example.com", TOKEN)
    paths.token_file.chmod(0o644)  # someone loosened it: a new login writes a fresh 0600 file
    save_login(paths, "https://a.example.com", "second-token")
    assert mode(paths.token_file) == 0o600
    assert load_settings(paths, {}).token == "second-token"


def test_save_login_keeps_other_settings(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(
        '# mine\ntheme = "nord"\nsync_interval_seconds = 30\n'
        '[keys]\naccept = "A"\n"odd key" = "x"\n'
    )
    save_login(paths, "http://127.0.0.1:8765", TOKEN)
    s = load_settings(paths, {})
    assert s.theme == "nord"
    assert s.sync_interval_seconds == 30
    assert s.keys == {"accept": "A", "odd key": "x"}
    assert s.server_url == "http://127.0.0.1:8765"
    assert s.insecure is False


def test_save_login_insecure_is_remembered(paths: Paths) -> None:
    save_login(paths, "http://triage.lan:8000", TOKEN, insecure=True)
    assert load_settings(paths, {}).insecure is True


def test_save_login_refuses_plain_http_to_remote(paths: Paths) -> None:
    with pytest.raises(ConfigError, match="refusing plain http"):
        save_login(paths, "http://triage.example.com", TOKEN)
    assert not paths.token_file.exists()


def test_save_login_refuses_a_corrupt_config(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="config.toml"):
        save_login(paths, "https://a.example.com", TOKEN)
    assert paths.config_file.read_text() == "this is = = not toml"


def test_save_login_refuses_empty_token(paths: Paths) -> None:
    with pytest.raises(ConfigError):
        save_login(paths, "https://a.example.com", "  ")


def test_toml_writer_round_trips() -> None:
    data = {
        "s": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f é',
        "b": True,
        "i": -3,
        "f": 1.5,
        "inf": float("inf"),
        "arr": [1, 2, 3],
        "empty": {},
        "keys": {"accept": "A", "a.b": "c", "nested": {"deep": ["x", "y"]}},
        "rules": [{"code": "x"}, {"code": "y", "note_required": True}],
    }
    assert tomllib.loads(dumps_toml(data)) == data


# ---------------------------------------------------------------- server URL


@pytest.mark.parametrize(
    ("url", "insecure", "expected"),
    [
        ("https://triage.example.com", False, "https://triage.example.com"),
        ("https://triage.example.com/", False, "https://triage.example.com"),
        ("  HTTPS://triage.example.com:8443/api/ ", False, "https://triage.example.com:8443/api"),
        ("http://localhost:8765", False, "http://localhost:8765"),
        ("http://127.0.0.1:8765/", False, "http://127.0.0.1:8765"),
        ("http://127.8.9.10", False, "http://127.8.9.10"),
        ("http://[::1]:8000", False, "http://[::1]:8000"),
        ("http://triage.lan:8000", True, "http://triage.lan:8000"),
        ("http://10.0.0.5", True, "http://10.0.0.5"),
    ],
)
def test_check_server_url_accepts(url: str, insecure: bool, expected: str) -> None:
    assert check_server_url(url, insecure) == expected


@pytest.mark.parametrize(
    "host", ["triage.example.com", "10.0.0.5", "128.0.0.1", "localhost.evil.com"]
)
def test_check_server_url_refuses_plain_http_to_remote(host: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_server_url(f"http://{host}:8000", insecure=False)
    assert str(err.value) == f"refusing plain http to {host}; use https or pass --insecure"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "triage.example.com",
        "ftp://triage.example.com",
        "https://",
        "https://host:notaport",
        "https://host:99999",
        "https://host/?q=1",
        "https://user:pw@host",
        "javascript:alert(1)",
    ],
)
def test_check_server_url_refuses_garbage(url: str) -> None:
    with pytest.raises(ConfigError):
        check_server_url(url, insecure=True)


# ---------------------------------------------------------------- saved views


def test_saved_views_round_trip_and_keep_the_rest_of_the_file(paths: Paths) -> None:
    from triage.config import SavedView, save_views
    from triage.store import Store

    assert Store.SORTS == config_module.VIEW_SORTS  # the two lists of sorts stay one
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('theme = "nord"\n[keys]\nreject = "x"\n')
    views = [SavedView("Trade lows", "source:tradeshow 'score:<20'", "-score"), SavedView("All")]
    save_views(paths.config_file, views)
    s = load_settings(paths, {})
    assert s.views == views and s.theme == "nord" and s.keys == {"reject": "x"}
    assert s.config_file == paths.config_file
    save_views(paths.config_file, [])
    assert "views" not in paths.config_file.read_text()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('[[views]]\nfilter = "x"\n', "view 1 needs a name"),
        ('[[views]]\nname = "A"\nsort = "size"\n', "sort must be one of"),
        ('[[views]]\nname = "A"\nfilter = 3\n', "filter must be text"),
        ('views = "A"\n', "views must be tables"),
        ("".join(f'[[views]]\nname = "v{i}"\n' for i in range(10)), "at most 9"),
    ],
)
def test_a_bad_view_is_refused_naming_it(paths: Paths, table: str, problem: str) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(table)
    with pytest.raises(ConfigError, match=problem):
        load_settings(paths, {})


def test_queue_columns_are_chosen_and_ordered_in_config(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('[queue]\ncolumns = ["Age", "name", "score"]\n')
    assert load_settings(paths, {}).columns == ("age", "name", "score")
    for bad, problem in (
        ('["name", "size"]', "unknown 'size'"),
        ('["name", "name"]', "named twice"),
        ('["score"]', "must include name"),
        ('"name"', "must be a list"),
    ):
        paths.config_file.write_text(f"[queue]\ncolumns = {bad}\n")
        with pytest.raises(ConfigError, match=problem):
            load_settings(paths, {})

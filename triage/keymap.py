"""The keymap: which keys each binding of ours has, and the check of `[keys]` in config.toml.

Every binding of the TUI has an id (`accept`, `reject`, `cursor_down`, ...); `[keys]`
moves a binding to other keys by id. A keymap that gives one key two jobs on the same
screen is refused before the TUI starts (Textual would silently let the first win, and
the help would list the key twice), and so is an id that no binding has (a typo would
silently change nothing). Bindings that share a key by design (`escape` backs out of the
lead and clears the marks on the queue: different screens; `q` closes the help and quits
elsewhere) are told apart by scope: the bindings that are live at the same time.

The keymap knows no screen: the app hands it the scopes (`Scope`, by screen name), so
the arrows point one way (the app over its screens, over the keymap).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.keys import format_key
from textual.screen import Screen

from triage.config import ConfigError


@dataclass(frozen=True, slots=True)
class Bound:
    """A binding as a keymap leaves it."""

    id: str  # our binding id; for Textual's own bindings (not remappable), the action
    description: str
    keys: tuple[str, ...]
    ours: bool


def _normalize(keys: str) -> tuple[str, ...]:
    """Key names as Textual matches them ("?" is "question_mark"), as set_keymap does."""
    normalized = App._normalize_keymap({"k": keys})["k"]
    return tuple(k.strip() for k in normalized.split(",") if k.strip())


@dataclass(frozen=True, slots=True)
class Scope:
    """The classes whose bindings are live together on one screen: the screen, its
    widgets, the app. On a modal screen only the app's priority bindings reach past it."""

    classes: tuple[type, ...]
    modal: bool = False


Scopes = Mapping[str, Scope]


def own_bindings(cls: type) -> list[Binding]:
    """The Binding objects declared by the class's own (triage) classes, most derived first."""
    out: list[Binding] = []
    for klass in cls.__mro__:
        if klass.__module__.startswith("triage."):
            out.extend(b for b in klass.__dict__.get("BINDINGS", ()) if isinstance(b, Binding))
    return out


def _textual_bindings(cls: type) -> list[Binding]:
    """Textual's own bindings that come with the class (not remappable: no ids)."""
    if issubclass(cls, App):
        return [b for b in App.BINDINGS if isinstance(b, Binding)]
    if issubclass(cls, Screen):
        return [b for b in Screen.BINDINGS if isinstance(b, Binding)]
    return []


def bindings_by_id(scopes: Scopes) -> dict[str, Binding]:
    """Every binding of ours, by id (the first declared wins: the same id, the same job)."""
    out: dict[str, Binding] = {}
    for scope in scopes.values():
        for cls in scope.classes:
            for binding in own_bindings(cls):
                if binding.id:
                    out.setdefault(binding.id, binding)
    return out


def keys_of(binding: Binding, keymap: Mapping[str, str]) -> tuple[str, ...]:
    """The keys `binding` answers to under `keymap`."""
    raw = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return _normalize(raw)


def scope_bindings(scope: Scope, keymap: Mapping[str, str]) -> list[Bound]:
    out: list[Bound] = []
    seen: set[str] = set()
    for cls in scope.classes:
        modal_reach = scope.modal and issubclass(cls, App)
        for binding in own_bindings(cls):
            if modal_reach and not binding.priority:
                continue
            binding_id = binding.id or binding.action
            if binding_id in seen:
                continue
            seen.add(binding_id)
            out.append(Bound(binding_id, binding.description, keys_of(binding, keymap), True))
        for binding in _textual_bindings(cls):
            if modal_reach and not binding.priority:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            description = binding.description or binding.action
            out.append(Bound(binding.action, description, _normalize(binding.key), False))
    return out


def _clashes(scopes: Scopes, keymap: Mapping[str, str]) -> dict[tuple[str, str, str], set[str]]:
    """(key, id, id) -> the scopes where both bindings answer to the key."""
    found: dict[tuple[str, str, str], set[str]] = {}
    for name, scope in scopes.items():
        by_key: dict[str, list[Bound]] = {}
        for bound in scope_bindings(scope, keymap):
            for key in bound.keys:
                by_key.setdefault(key, []).append(bound)
        for key, bounds in by_key.items():
            for i, first in enumerate(bounds):
                for second in bounds[i + 1 :]:
                    if first.id != second.id:
                        found.setdefault((key, first.id, second.id), set()).add(name)
    return found


def check_keymap(keymap: Mapping[str, str], scopes: Scopes) -> None:
    """Raise ConfigError naming every problem of `[keys]` over the app's `scopes`: an id no
    binding has, or a key given two jobs on one screen (naming both bindings). Clashes the
    defaults have on purpose (Textual's ctrl+c copies a selection, else says how to quit)
    are not ours."""
    if not keymap:
        return
    problems: list[str] = []
    known = bindings_by_id(scopes)
    for binding_id in keymap:
        if binding_id not in known:
            problems.append(
                f"{binding_id!r} is not a binding id (the help, ?, lists every id beside its keys)"
            )
    descriptions = {
        b.id: b.description for scope in scopes.values() for b in scope_bindings(scope, keymap)
    }
    by_design = _clashes(scopes, {})
    for (key, first, second), where in _clashes(scopes, keymap).items():
        if (key, first, second) in by_design:
            continue
        names = [
            f"{i} ({descriptions.get(i, i)})"
            if i in known
            else f"Textual's {descriptions.get(i, i)!r}"
            for i in (first, second)
        ]
        screens = [s for s in scopes if s in where]
        on = " and ".join([", ".join(screens[:-1]), screens[-1]] if len(screens) > 1 else screens)
        problems.append(
            f'"{format_key(key)}" would be both {names[0]} and {names[1]} on the {on} '
            f"screen{'s' if len(screens) > 1 else ''}: give one of them another key"
        )
    if problems:
        raise ConfigError("config.toml [keys]: " + "; ".join(problems))

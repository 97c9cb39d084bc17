"""Moving between the app's screens: back down the stack to one, and the help screens.

The app owns the screen stack; these are the pieces of it that need no app state of
their own, kept here so the app class stays wiring.
"""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from triage.screens.help import HelpScreen


def pop_to(app: App, screen: Screen) -> None:
    """Pop the screens above `screen` (which is in the stack) so it is on top."""
    while app.screen is not screen and len(app.screen_stack) > 1:
        app.pop_screen()


class HelpScreens:
    """The help of each kind of screen, made once and kept: a screen's help is made from
    its class's bindings and the keymap, which do not change while the app runs."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._screens: dict[type, Screen] = {}

    def show(self) -> None:
        """The help of the screen on top (back to it if it is under the palette)."""
        app = self.app
        if isinstance(app.screen, HelpScreen):
            return
        kind = type(app.screen)
        help_screen = self._screens.get(kind)
        if help_screen in app.screen_stack:  # under the palette: back to it
            pop_to(app, help_screen)
            return
        if help_screen is None:
            help_screen = self._screens[kind] = HelpScreen(app.screen)
            app.install_screen(help_screen, name=f"help-{kind.__name__}")
        app.push_screen(help_screen)

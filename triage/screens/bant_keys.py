"""BANT in one key per answer, beside the digits that cycle it.

The keys: shift and a key under the criterion's digit. The row under `1`-`4` (Q W E R)
answers yes, the next row (A S D F) no, the last (Z X C V) not yet. So "Authority: no"
is one key (`S`) where the cycle takes two or three presses of `2`.

Why these: twelve keys are needed (four criteria, three answers), and this block is
the only one near the digits that the lead screen, the queue and the app leave free
in both screens. Lowercase would clash (`q` quits, `r` rejects, `a` accepts, `s`
syncs, `c` shows the conflicts); the rows keep the criterion's column under its digit,
where the fingers already are; the digits themselves stay free on the queue (the
preview pane answers with these keys only). Every key is remappable by its id
(`bant_2_no = "f2"`).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from triage import domain
from triage.screens.messages import StoreWritten, host
from triage.store import ActionError, StoreError

ANSWER_KEYS = (("yes", "QWER"), ("no", "ASDF"), ("unknown", "ZXCV"))
ANSWER_WORD = {"yes": "yes", "no": "no", "unknown": "not yet"}
_SHORT = {"yes": "yes", "no": "no", "unknown": "clear"}  # the help's narrow column

BANT_SET_BINDINGS = [
    Binding(keys[i], f"set_bant({i}, '{answer}')", f"BANT {i + 1} {_SHORT[answer]}",
            id=f"bant_{i + 1}_{answer}", show=False,
            tooltip=f"Answer BANT criterion {i + 1} {ANSWER_WORD[answer]}, in one key")
    for answer, keys in ANSWER_KEYS
    for i in range(4)
]  # fmt: skip


def answer_keys_hint(screen: Screen) -> str:
    """ "Q W E R yes · A S D F no · Z X C V not yet", with the keys of the keymap."""
    app = host(screen)
    rows = []
    for answer, keys in ANSWER_KEYS:
        shown = [app.key_label(f"bant_{i + 1}_{answer}", keys[i]) for i in range(4)]
        rows.append(f"{' '.join(shown)} {ANSWER_WORD[answer]}")
    return " · ".join(rows)


def help_note(screen: Screen) -> str:
    """What the help says of these keys, and why they are these."""
    return (
        f"BANT in one key: {answer_keys_hint(screen)} (shift and the key under the "
        "criterion's digit). Chosen as the one block of twelve keys near the digits that "
        "no other key here uses: lowercase q, r, a, s and c already quit, reject, accept, "
        "sync and show conflicts."
    )


def set_answer(screen: Screen, lead_id: str | None, index: int, answer: str) -> domain.Lead | None:
    """Answer criterion `index` (0-based, the policy's order) of `lead_id` with `answer`;
    the lead as it is now, or None when there is nothing to answer. An answer it already
    has writes nothing (no mutation to send, no undo step)."""
    app = host(screen)
    policy = app.policy
    if lead_id is None or not 0 <= index < len(policy.bant):
        return None
    key = policy.bant[index].key
    lead = app.store.lead(lead_id)
    if lead is None or lead.bant_answer(key).value == answer:
        return lead
    try:
        app.store.set_bant(lead_id, key, answer)
    except (ActionError, StoreError) as exc:
        screen.notify(getattr(exc, "message", str(exc)), severity="error")
        return None
    screen.post_message(StoreWritten("bant", lead_id=lead_id))
    return app.store.lead(lead_id)

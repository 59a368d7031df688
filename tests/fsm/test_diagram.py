"""docs/fsm.md is generated from the transition table; this keeps it in step with the code."""

from __future__ import annotations

from pathlib import Path

from pybgp.fsm.diagram import markdown, transitions_observed
from pybgp.fsm.states import State

DOC = Path(__file__).resolve().parents[2] / "docs" / "fsm.md"


def test_docs_fsm_md_is_up_to_date() -> None:
    assert DOC.read_text() == markdown(), "run: .venv/bin/python -m pybgp.fsm.diagram > docs/fsm.md"


def test_the_rfc_happy_path_is_in_the_diagram() -> None:
    moves = {(old, new) for old, _, new, _ in transitions_observed()}
    for step in [
        (State.IDLE, State.CONNECT),
        (State.CONNECT, State.OPENSENT),
        (State.OPENSENT, State.OPENCONFIRM),
        (State.OPENCONFIRM, State.ESTABLISHED),
        (State.ESTABLISHED, State.IDLE),
        (State.IDLE, State.ACTIVE),
        (State.ACTIVE, State.OPENSENT),
    ]:
        assert step in moves, step

"""How an archive shows an event that a consumer gave up on (a dead letter)."""

import json

from vidar import subjects
from vidar.dead_letters import DEAD_LETTERS_STREAM, DeadLetter
from vidar.documents import Notice

# The run's own events: losing one leaves its archive QUEUED or INPROGRESS with nothing to end it.
RUN_LIFECYCLE = frozenset({subjects.JOB_DISPATCH, *subjects.JOB_REPORTS})
# The archive shows the start of the error; the dead letter keeps all of it.
SHOWN_ERROR_LENGTH = 300


def lost_event_note(letter: DeadLetter) -> str:
    error = letter.error if len(letter.error) <= SHOWN_ERROR_LENGTH else letter.error[:SHOWN_ERROR_LENGTH] + "…"
    return (
        f"The event {letter.subject} ({letter.event_id}) could not be handled by {letter.consumer} in "
        f"{letter.deliveries} deliveries: {error}. It is kept in {DEAD_LETTERS_STREAM.name} for an operator "
        "to inspect and replay."
    )


def lost_event_display(note: str) -> Notice:
    """The archive's `error` and health_status display."""
    return Notice(error=note, code="red", code_desc="An event could not be handled", msg=note)


def run_of(letter: DeadLetter) -> str | None:
    """The run a job event belongs to (its payload's `run_id`)."""
    try:
        payload = json.loads(letter.body).get("payload")
    except (ValueError, AttributeError):
        return None
    run_id = payload.get("run_id") if isinstance(payload, dict) else None
    return run_id if isinstance(run_id, str) else None


def run_to_fail(letter: DeadLetter) -> str | None:
    """The run that fails because `letter` was lost: only one of the run's own events (its dispatch
    or a report) leaves a run with nothing to end it; any other lost event fails no run."""
    return run_of(letter) if letter.subject in RUN_LIFECYCLE else None

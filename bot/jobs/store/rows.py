"""Rows <-> Jobs: the one place where columns and fields meet."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from bot.jobs.job_requests import dump_request, load_request
from bot.jobs.models import ACTIVE_STATES, POLLABLE_STATES, Job, JobKind, JobSource, JobState

JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))
UPDATABLE_FIELDS = tuple(name for name in JOB_FIELDS if name != "id")
# The request is stored in the `params` column (its name since schema v1).
_COLUMN_OF = {"request": "params"}
JOB_COLUMNS = ", ".join(_COLUMN_OF.get(name, name) for name in JOB_FIELDS)


def column_of(field: str) -> str:
    return _COLUMN_OF.get(field, field)


def in_list(states: Iterable[JobState]) -> str:
    """A literal SQL list of states, in a stable order: `('complete', 'queued')`."""
    return "(" + ", ".join(f"'{state.value}'" for state in sorted(states)) + ")"


# Must match the predicate of the partial index `jobs_due` (see migrations.py) term for term,
# or SQLite will not use the index; tests check the query plans.
POLLABLE = f"state IN {in_list(POLLABLE_STATES)}"
ACTIVE = f"state IN {in_list(ACTIVE_STATES)}"


def to_column(field: str, value: Any) -> Any:
    match field:
        case "request":
            return dump_request(value)
        case "kind":
            return JobKind(value).value
        case "state":
            return JobState(value).value
        case "source":
            return JobSource(value).value
    return value


_KINDS = {kind.value: kind for kind in JobKind}
_STATES = {state.value: state for state in JobState}
_SOURCES = {source.value: source for source in JobSource}
_ID, _KIND, _STATE, _REQUEST, _SOURCE = (
    JOB_FIELDS.index(f) for f in ("id", "kind", "state", "request", "source")
)


def job_from_row(row: Sequence[Any]) -> Job:
    """A Job from a row of `SELECT {JOB_COLUMNS}`: the columns in Job field order."""
    values = list(row)
    # Dict lookups first: this runs for every row the poller reads, the Enum call is slower.
    kind = _KINDS.get(row[_KIND]) or JobKind(row[_KIND])
    values[_KIND] = kind
    values[_STATE] = _STATES.get(row[_STATE]) or JobState(row[_STATE])
    values[_SOURCE] = _SOURCES.get(row[_SOURCE]) or JobSource(row[_SOURCE])
    values[_REQUEST] = load_request(kind, row[_REQUEST], job_id=row[_ID])
    return Job(*values)

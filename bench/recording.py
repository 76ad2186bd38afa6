"""The one road from a plan to the store: :func:`record_run` is the only writer of runs.

    plan (bench.plan.make_plan) -> sandboxed child (bench.sandbox): [probe checks]
                                -> finished twin in the store? -> yes: that result, the child stops
                                -> the child evaluates; each image's scores and sample crops written
                                   here as they arrive
                                -> run marked complete with its latencies and full result

The submission's model only ever runs in the sandboxed child, under the plan's limits.

``bench score``, ``bench demo``, ``bench score-many`` (in its workers, local or Ray),
``bench challenge`` and the optimisations' scoring all come here. Without a store the same road
runs and nothing is written (a challenge rerun without ``--db``, an optimisation's comparison).

A run that fails for good (a user error, or anything else) leaves nothing in the store; an
interrupted one (Ctrl-C) keeps its images, so the same plan resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bench.errors import USER_ERRORS, ScoringError, StoreError
from bench.plan import Plan
from bench.reserved import check_identity
from bench.results import Result
from bench.sandbox import Progress, Sandbox
from bench.store import RunHandle, Store, describe_url


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_run` did: the result, its id in the store (None without a store), whether a
    stored twin was returned instead of running (``reused``), and how many images a resumed run kept."""

    result: Result
    result_id: int | None = None
    reused: bool = False
    resumed_images: int = 0


def record_run(
    plan: Plan,
    store: Store | None,
    resume: bool = True,
    restart: bool = False,
    probe_first: bool = False,
    progress: Progress | None = None,
    on_resume: Callable[[RunHandle], None] | None = None,
) -> Recorded:
    """Run ``plan`` into ``store`` (see the module docstring). Whatever goes wrong reaches the caller as one
    of :data:`~bench.errors.USER_ERRORS`: a database error as :class:`StoreError`, any other failure of the
    submission's model (a runtime error, a wrong output type, memory) as :class:`ScoringError` naming it.

    ``resume``: continue an unfinished run with the same key (else :class:`~bench.errors.RunInProgress`);
    ``restart``: discard it and start again; ``probe_first``: run the probe checks before anything
    else, so a broken model never reaches (or creates) the store (``bench score`` does). ``on_resume``
    is told about a run that goes on.
    """
    try:
        return _record(plan, store, resume, restart, probe_first, progress, on_resume)
    except USER_ERRORS:
        raise
    except SQLAlchemyError as exc:
        where = describe_url(store.url) if store is not None else "the store"
        raise StoreError(f"the results store {where} cannot be used: {_cause(exc)}") from exc
    except Exception as exc:
        raise ScoringError(
            f"submission {plan.submission.manifest.name!r} failed on {plan.task.id}: {type(exc).__name__}: {exc}"
        ) from exc


def _cause(exc: BaseException) -> str:
    """A database error in one line: the driver's own error (SQLAlchemy's wrapper adds the statement)."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"


def _record(
    plan: Plan,
    store: Store | None,
    resume: bool,
    restart: bool,
    probe_first: bool,
    progress: Progress | None,
    on_resume: Callable[[RunHandle], None] | None,
) -> Recorded:
    if store is not None:  # only the project's own folders are stored under its names (bench.reserved)
        manifest = plan.submission.manifest
        check_identity(plan.submission.folder, manifest.name, manifest.team, manifest.tags)
    with Sandbox(plan) as child:
        if probe_first:  # the probe comes first: a broken model never reaches (or creates) the store
            child.start(probe=True, record=store is not None, done={})
            child.probed()
        if store is None:
            if probe_first:
                child.go({})
            else:
                child.start(probe=False, record=False, done={})
            return Recorded(child.result(None, progress))
        handle = store.run(plan.key, plan.info, plan.task.id, plan.task.version, resume=resume or restart)
        if handle.complete_id is not None:
            if probe_first:
                child.stop()
            detail = store.run_detail(handle.complete_id)
            assert detail is not None  # a complete run always has its detail
            return Recorded(Result.model_validate(detail["result"]), handle.complete_id, reused=True)
        if restart:
            handle.discard_unfinished()
        resumed = len(handle.done)
        if resumed and on_resume is not None:
            on_resume(handle)
        try:
            if probe_first:
                child.go(handle.done)
            else:
                child.start(probe=False, record=True, done=handle.done)
            result = child.result(handle.record, progress)
        except KeyboardInterrupt:
            raise  # the images scored so far stay, for a resume
        except BaseException as exc:
            try:
                handle.discard()  # a run that failed for good leaves nothing behind
            except SQLAlchemyError as again:  # the store cannot be written at all (a full disk): say what stays
                raise StoreError(
                    f"the results store {describe_url(store.url)} cannot be written ({_cause(exc)}; removing the "
                    f"run then failed too: {_cause(again)}), often a full disk; nothing stored before is lost, and "
                    f"the unfinished run {handle.run_id} stays: once the store can be written, run the same command "
                    "with --resume to finish it or --restart to drop it"
                ) from exc
            raise
        return Recorded(result, handle.finish(result), resumed_images=resumed)

"""Every error a user can cause, in one light module, and :data:`USER_ERRORS`, the one set of them.

A user error carries a one-paragraph message written for the user; the CLI prints it and exits
with status 2, ``score-many`` and the workers report it as the job's reason, and the one road
(:mod:`bench.recording`) removes the unfinished run. Anything else is a bug and keeps its type
name. This module imports nothing heavy, so the CLI can name these before any command runs.
"""

from __future__ import annotations

from bench.registry import UnknownName


class SubmissionError(ValueError):
    """A submission is missing, malformed or unsafe; the message names the problem in one paragraph."""


class ScoringError(RuntimeError):
    """The model ran but its output cannot be scored (wrong shape, NaN/Inf), or it broke a time limit."""


class BudgetExceeded(ScoringError):
    """One call of the model would exceed a budget (memory, MACs), known before it runs (bench.budgets)."""


class TaskError(ValueError):
    """A task file is invalid or a task id is unknown."""


class TrackError(ValueError):
    """A track file is invalid or a track id is unknown."""


class DataNotFound(FileNotFoundError):
    """A data set is not where its task expects it (the message gives the expected layout)."""


class ImageReadError(ValueError):
    """An image file is missing, unreadable or of an unsupported mode."""


class DownloadError(Exception):
    """Base of the download errors; the message is one paragraph written for the user."""


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this machine (library missing, no GPU, no adb, ...); says why."""


class ConversionError(RuntimeError):
    """A model could not be converted for a backend, or the converted model disagrees with its source."""


class OutputError(OSError):
    """A file the user asked for (``--json``, ``--markdown``) cannot be written."""


class StoreError(RuntimeError):
    """The results store cannot be read or written (unreachable, read-only, full, corrupt)."""


class StoreSchemaError(RuntimeError):
    """The database holds a schema the migrations cannot take to the newest revision."""


class RunInProgress(RuntimeError):
    """An unfinished run with the same key exists (interrupted, or running in another process)."""


class RecipeError(ValueError):
    """A recipe file is missing, malformed or inconsistent; the message names the problem."""


class TrainingError(ValueError):
    """A run that cannot start or continue (bad device, existing checkpoints, a changed recipe)."""


class TrainingDataError(ValueError):
    """The training folder is missing, empty, or its images are too small for the crop."""


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or from a different recipe."""


class PortableSearchError(RuntimeError):
    """The search cannot run (no portable U-Net exists on these devices, nothing was evaluated, ...)."""


class SearchError(RuntimeError):
    """The search found nothing feasible."""


class OptimizeError(ValueError):
    """The baseline cannot be rewritten (no rewrite for its architecture, no recipe, an existing output)."""


class ServiceError(ValueError):
    """A submission to the service is refused (a bad token, a name of another team, an unknown job)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    SubmissionError,
    ScoringError,
    BudgetExceeded,
    TaskError,
    TrackError,
    DataNotFound,
    ImageReadError,
    DownloadError,
    BackendUnavailable,
    ConversionError,
    OutputError,
    StoreError,
    StoreSchemaError,
    RunInProgress,
    UnknownName,
    RecipeError,
    TrainingError,
    TrainingDataError,
    CheckpointError,
    PortableSearchError,
    SearchError,
    OptimizeError,
    ServiceError,
)

"""Typed errors raised by modelreuse.

Every error says what was wrong and what to do about it. All derive from
:class:`ModelReuseError`, so ``except ModelReuseError`` catches anything this library
raises on purpose.
"""


class ModelReuseError(Exception):
    """Base class of every error modelreuse raises on purpose."""


class ManifestError(ModelReuseError, ValueError):
    """A learnware's ``manifest.json`` is missing, malformed or violates the schema."""


class SchemaError(ModelReuseError, ValueError):
    """Data or model outputs do not match the declared input/output schema."""


class UntrustedArtifactError(ModelReuseError, PermissionError):
    """Loading the artifact could execute code (pickle/joblib) and ``trust=True`` was not given."""


class ModelLoadError(ModelReuseError):
    """A model artifact could not be loaded."""


class UnsupportedModelError(ModelReuseError, TypeError):
    """An object cannot be saved in a safe artifact format: it is not a scikit-learn estimator
    (skops), a torch ``nn.Module`` (safetensors plus a registered architecture) or an ONNX model,
    or skops wrote it in a form no other process can load (a class or function defined in
    ``__main__`` or inside a function). Other objects need ``fmt="pickle"`` and ``trust=True`` to load."""


class ModelPredictError(ModelReuseError):
    """A model loaded but failed to predict, timed out or ran out of memory."""


class UnsafeArchiveError(ModelReuseError, ValueError):
    """A learnware zip contains paths escaping its root, links, or is too large."""


class InvalidTaskDataError(ModelReuseError, ValueError):
    """Task data is empty, has the wrong shape, or contains NaN/inf where not allowed."""


class SpecError(ModelReuseError, ValueError):
    """A specification is malformed, or two specifications are not comparable."""


class EmptyDockError(ModelReuseError, LookupError):
    """The dock holds no learnware that could answer the request."""


class LearnwareNotFoundError(ModelReuseError, KeyError):
    """No learnware with the given id exists in the dock."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "learnware not found"


class DockNotFoundError(ModelReuseError, FileNotFoundError):
    """No dock at the given root: the folder does not exist or holds no dock (and creating one was
    not asked for), or the path is a file. Create one with ``modelreuse dock init PATH`` or
    ``Dock(PATH, create=True)``."""


class DuplicateLearnwareError(ModelReuseError, ValueError):
    """A learnware with the same id is already in the dock."""


class NothingFitsError(ModelReuseError, LookupError):
    """Calibrated search found no learnware whose distribution plausibly matches the task.

    ``ranking`` holds the closest candidates, each with its p-value.
    """

    def __init__(self, message: str, ranking=None):
        super().__init__(message)
        self.ranking = ranking


class RoutingDataError(ModelReuseError, ValueError):
    """A routing-records table or a routing request is malformed (see ``routing/records.py``)."""


class RecordsDataError(ModelReuseError, ValueError):
    """Leaderboard records (model, dataset, task, metric, score) are malformed or inconsistent."""


class InvalidLimitError(ModelReuseError, ValueError):
    """A resource limit (validation time, memory, CPU seconds, ...) is not a positive number or
    cannot be parsed (sizes: bytes or a number with a unit such as ``2GiB``)."""


class UnknownNameError(ModelReuseError, ValueError):
    """A name (spec kind, selector, reuser, router, recommender, metric, encoder, architecture)
    is not registered; the message lists the registered names."""


class RegistryError(ModelReuseError, ValueError):
    """Two entries were registered under one name in a registry (a programming error)."""


class AuthenticationError(ModelReuseError, PermissionError):
    """A dock server request carried no token, or one that is unknown or revoked (HTTP 401)."""


class PermissionDeniedError(ModelReuseError, PermissionError):
    """The token is valid but may not do this: a missing scope, or another user's learnware (HTTP 403)."""


class PayloadTooLargeError(ModelReuseError, ValueError):
    """An upload is larger than the server's limit (HTTP 413)."""


class RateLimitError(ModelReuseError):
    """Too many requests from one token or address in the server's window (HTTP 429); retry later."""


class UploadNotFoundError(ModelReuseError, KeyError):
    """A dock server has no upload with this id (HTTP 404)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AccountExistsError(ModelReuseError, ValueError):
    """A dock server user with this name already exists (HTTP 409)."""


class RemoteDockError(ModelReuseError):
    """A dock server answered with an error this client does not know, or could not be reached."""


class BelowBaselineWarning(UserWarning):
    """No reuse candidate scored above the trivial baseline (the majority class's accuracy, or
    R^2 = 0 for predicting the mean) on the user's labelled rows: the learnwares found do not help
    this task; compare with a model trained on your own rows (reuser ``"own_rows"``)."""

"""modelreuse: find trained models that fit your task and reuse them.

The one-call form::

    from modelreuse import Client
    model = Client().fit(training_data=(X, y), model_zoo_path="path/to/dock")
    model.predict(X_test)
"""

from modelreuse.config import __version__


def __getattr__(name: str):
    """Import the heavy public entry points lazily (keeps ``import modelreuse`` fast)."""
    if name == "Client":
        from modelreuse.client import Client

        return Client
    if name == "Task":
        from modelreuse.task import Task

        return Task
    raise AttributeError(name)


__all__ = ["Client", "Task", "__version__"]

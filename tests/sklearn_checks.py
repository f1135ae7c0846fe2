"""Helpers for scikit-learn's estimator checks.

:func:`estimator_check_params` parametrises what ``parametrize_with_checks`` does, with two
differences that keep the suite fast: short ids (``<label>-<check>``; scikit-learn's ids print
every estimator's parameters once per check) and expected failures asserted with
``pytest.raises`` of the stated error instead of a strict xfail (the same guarantee that the check
still fails, for the stated reason's error type, without pytest formatting a long traceback for
each: about 0.4 s apiece on a loaded 2-core machine). :func:`run_check` runs one.

:data:`DATA_FREE_CHECKS` are scikit-learn's API checks that need no data (construction,
parameters, repr, tags, mixin order). ``parametrize_with_checks`` runs nothing but
``check_estimator_cloneable`` on an estimator whose tags say ``input_tags.two_d_array=False``
(``Router`` fits on routing records, recommenders on leaderboard records), so these run on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    estimator_checks_generator,
)

DATA_FREE_CHECKS = (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)


@dataclass(frozen=True)
class ExpectedFailure:
    """Why a check fails for an estimator, and the error(s) it then raises."""

    reason: str
    raises: type[BaseException] | tuple[type[BaseException], ...]


def check_name(check) -> str:
    """``check_name`` or ``check_name(keyword=value,...)``, as scikit-learn names a check."""
    keywords = {}
    while isinstance(check, partial):
        keywords |= check.keywords
        check = check.func
    return check.__name__ + (f"({','.join(f'{k}={v}' for k, v in keywords.items())})" if keywords else "")


def estimator_check_params(labelled: Iterable[tuple[str, object]],
                           expected_failures: Callable[[object], dict[str, ExpectedFailure]]) -> Iterator:
    """``pytest.param(estimator, check, expected)`` for every check scikit-learn yields for each
    ``(label, estimator)``; ``expected`` is the :class:`ExpectedFailure` listed for that check
    (by name, as ``expected_failed_checks``) or None."""
    for label, estimator in labelled:
        failures = expected_failures(estimator)
        for instance, check in estimator_checks_generator(estimator):
            name = check_name(check)
            expected = failures.get(name.split("(")[0])
            yield pytest.param(instance, check, expected,
                               id=f"{label}-{name}" + ("-expected-failure" if expected else ""))


def run_check(estimator, check, expected: ExpectedFailure | None) -> None:
    """Run ``check``; an expected failure must fail with its stated error."""
    if expected is None:
        check(estimator)
        return
    with pytest.raises(expected.raises):
        check(estimator)


def run_data_free_check(check, estimator) -> None:
    """Run one of :data:`DATA_FREE_CHECKS` the way ``parametrize_with_checks`` does."""
    check(type(estimator).__name__, estimator)

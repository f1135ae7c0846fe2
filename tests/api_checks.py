"""scikit-learn's data-free API checks, for estimators whose input is not an array ``X``.

:func:`~sklearn.utils.estimator_checks.parametrize_with_checks` runs nothing but
``check_estimator_cloneable`` on an estimator whose tags say ``input_tags.two_d_array=False``
(``Router`` fits on routing records, recommenders on leaderboard records): every other check
fits on random arrays. The checks below need no data (construction, parameters, repr, tags,
mixin order), so they run on those estimators too.
"""

from __future__ import annotations

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


def run_data_free_check(check, estimator) -> None:
    """Run one of :data:`DATA_FREE_CHECKS` the way ``parametrize_with_checks`` does."""
    check(type(estimator).__name__, estimator)

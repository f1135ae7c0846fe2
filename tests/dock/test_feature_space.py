"""Learnwares are compared only within one feature space (width, feature names, encoder), never by
width alone; docks made before the ``feature_space`` column existed still open."""

from __future__ import annotations

import sqlite3

import pytest
from sklearn.linear_model import Ridge

from modelreuse.dock import Dock
from modelreuse.errors import SchemaError
from modelreuse.learnware import Learnware
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task, feature_space_key
from tests.conftest import user_half


def _learnware(directory, beijing, site, **schema) -> Learnware:
    X, y = user_half(beijing, site)
    return Learnware.build(directory / f"{site}-{schema.get('encoder')}", Ridge().fit(X, y), RKMESpec.fit(X, m=10),
                           name=f"{site} {schema.get('encoder') or 'plain'}", task_type="regression", target="PM2.5",
                           **schema)


@pytest.fixture(scope="module")
def encoder_dock(beijing, tmp_path_factory):
    """Huairou rows behind encoder 'enc-a', Wanliu rows behind 'enc-b': equal width, two spaces."""
    packages = tmp_path_factory.mktemp("encoders")
    dock = Dock(tmp_path_factory.mktemp("encoder-dock"))
    ids = {enc: dock.submit(_learnware(packages, beijing, site, encoder=enc), validate=False)
           for site, enc in (("Huairou", "enc-a"), ("Wanliu", "enc-b"))}
    return dock, ids


@pytest.mark.parametrize("method", ["statistical", "mixture"])
def test_two_encoders_of_equal_width_are_never_compared(encoder_dock, beijing, method):
    dock, ids = encoder_dock
    X = user_half(beijing, "Huairou")[0]
    for encoder in ("enc-a", "enc-b"):
        ranking = dock.search(Task(X=X, encoder=encoder), method=method, calibrate=False)
        assert ranking.ids == [ids[encoder]]
        assert ranking.details["feature_space"] == feature_space_key(X.shape[1], encoder=encoder)
    with pytest.raises(SchemaError, match="2 feature spaces of width .*enc-a.*enc-b|2 feature spaces of width .*enc-b.*enc-a"):
        dock.search(Task(X=X), method=method)
    assert [c["id"] for c in dock.list(feature_space=feature_space_key(X.shape[1], encoder="enc-b"))] == [ids["enc-b"]]


def test_plain_rows_match_the_learnwares_without_names(encoder_dock, beijing, tmp_path):
    dock, ids = encoder_dock
    plain_id = dock.submit(_learnware(tmp_path, beijing, "Changping"), validate=False)
    try:
        X = user_half(beijing, "Huairou")[0]
        assert dock.search(Task(X=X), k=5).ids == [plain_id]
        assert dock.search(RKMESpec.fit(X, m=10), k=5).ids == [plain_id]
    finally:
        dock.remove(plain_id)


def test_plain_rows_use_the_only_space_of_their_width(filled_dock, beijing):
    """The station learnwares declare feature names: rows without names are taken to be in that
    space because it is the only one of their width (ranking details say which)."""
    dock, ids = filled_dock
    X = user_half(beijing, "Wanliu")[0]
    ranking = dock.search(Task(X=X), k=4)
    assert ranking[0].learnware_id == ids["Wanliu"]
    assert ranking.details["feature_space"] == feature_space_key(X.shape[1], beijing["_feature_names"])
    named = dock.search(Task(X=X, feature_names=beijing["_feature_names"]), k=4)
    assert named.ids == ranking.ids


def test_a_dock_without_the_derived_columns_opens_and_is_filled(site_learnwares, beijing, tmp_path):
    """A dock made before the columns derived from manifests (feature space, encoder, spec kinds,
    table schema) gets them filled on open: its cards are the same as a new dock's."""
    dock = Dock(tmp_path / "old")
    ids = {site: dock.submit(lw, validate=False) for site, lw in site_learnwares.items()}
    cards = dock.list()
    assert {c["id"]: c["feature_space"] for c in cards} == {
        i: site_learnwares[s].manifest.feature_space for s, i in ids.items()}
    dock.engine.dispose()
    with sqlite3.connect(tmp_path / "old" / "dock.sqlite") as db:  # the schema of a dock made before the columns
        db.execute("DROP INDEX ix_learnwares_feature_space")
        for column in ("feature_space", "encoder", "spec_kinds", "table_schema"):
            db.execute(f"ALTER TABLE learnwares DROP COLUMN {column}")
        assert "spec_kinds" not in {row[1] for row in db.execute("PRAGMA table_info(learnwares)")}
    reopened = Dock(tmp_path / "old")
    assert reopened.list() == cards
    ranking = reopened.search(Task(X=user_half(beijing, "Huairou")[0], task_type="regression"), k=2)
    assert ranking[0].learnware_id == ids["Huairou"]

"""The tutorial's ``model_zoo_path`` as a folder of learnware packages or a zip of them: the packages are
validated (sandbox) into a temporary dock that lives as long as the fitted model, which saves with
the extractor's package."""

from __future__ import annotations

import shutil

import numpy as np

from modelreuse import Client
from modelreuse.reuse.reused_model import ReusedModel
from tests.zoo.extractors import senteval_cr, text_extractor_packages


def test_a_folder_or_a_zip_of_packages_is_a_zoo(tmp_path):
    text_extractor_packages(tmp_path / "zoo", sources=("sms_spam",))
    X, y, X_test, _ = senteval_cr(train=200, test=200)
    from_folder = Client().fit(training_data=(X, y), model_zoo_path=tmp_path / "zoo")
    zip_path = shutil.make_archive(str(tmp_path / "zoo"), "zip", tmp_path / "zoo")
    from_zip = Client().fit(training_data=(X, y), model_zoo_path=zip_path)
    assert from_zip.ranking.ids == from_folder.ranking.ids and len(from_zip.ranking) == 2  # content-addressed ids
    np.testing.assert_array_equal(from_zip.predict(X_test), from_folder.predict(X_test))
    assert ReusedModel.load(from_zip.save(tmp_path / "saved")).explain() == from_zip.explain()

"""Id look-ups never coerce: a query finds a row only when it is exactly that id."""

import numpy as np
import pytest

from mfrec.data.idmap import IdMap
from mfrec.exceptions import UnknownIdError
from mfrec.models import Biases


@pytest.fixture
def integer_ids():
    return IdMap(np.array([1, 2, 196]))


@pytest.mark.parametrize("query", ["1.5", "2.9", True, False, "01", " 1", "1.0", "+1", "abc", None, 2.5, np.nan, b"1"])
def test_near_misses_are_unknown_against_integer_ids(integer_ids, query):
    assert integer_ids.lookup([query], missing="negative").tolist() == [-1]
    assert query not in integer_ids


@pytest.mark.parametrize("query", [2, np.int32(2), np.uint8(2), "2", 2.0, np.float32(2.0)])
def test_exact_integer_spellings_match(integer_ids, query):
    assert integer_ids.lookup([query]).tolist() == [1]


def test_arrays_and_mixed_lists_are_not_coerced(integer_ids):
    assert integer_ids.lookup(np.array(["1.5", "196", "x"]), missing="negative").tolist() == [-1, 2, -1]
    assert integer_ids.lookup(np.array([1.5, 2.0]), missing="negative").tolist() == [-1, 1]
    assert integer_ids.lookup(np.array([True, False]), missing="negative").tolist() == [-1, -1]
    # numpy would turn [True, 2] into [1, 2] and [1.0, "1"] into ["1.0", "1"]
    assert integer_ids.lookup([True, 2], missing="negative").tolist() == [-1, 1]
    assert integer_ids.lookup([1.0, "1"], missing="negative").tolist() == [0, 0]


def test_strings_and_integer_spellings_match_string_ids():
    ids = IdMap(np.array(["1", "a", "007"]))
    assert ids.lookup(["1", 1, 1.0, True, "a", np.str_("a")], missing="negative").tolist() == [0, 0, -1, -1, 1, 1]
    assert ids.lookup(np.array([1, 7]), missing="negative").tolist() == [0, -1]  # 7 is "7", never "007"


def test_unknown_error_names_the_query(integer_ids):
    with pytest.raises(UnknownIdError, match="'1.5' is not known"):
        integer_ids.lookup(["1.5"])


def test_a_model_never_answers_for_another_user(tutorial):
    model = Biases().fit(
        tutorial.to_frame().assign(user=lambda f: f.user.map({"Alice": 1, "Bob": 2, "Carol": 3, "Dave": 4, "Eve": 5}))
    )
    with pytest.raises(UnknownIdError):
        model.recommend("1.5", 3, unknown="error")
    with pytest.raises(UnknownIdError):
        model.recommend(True, 3, unknown="error")
    assert model.recommend("1", 3, unknown="error")["item"].tolist() == model.recommend(1, 3)["item"].tolist()

"""The error hierarchy: one root, a builtin base for each, pickling with context."""

from __future__ import annotations

import inspect
import pickle

import pytest

from loyaltycore import errors
from loyaltycore.errors import InvalidData, LoyaltyError

ERROR_CLASSES = [
    obj
    for name, obj in vars(errors).items()
    if inspect.isclass(obj) and issubclass(obj, LoyaltyError) and not name.startswith("_")
]
BUILTINS = (ValueError, TypeError, LookupError, RuntimeError, ImportError)


def test_all_lists_every_error_class_sorted() -> None:
    assert sorted(errors.__all__) == errors.__all__
    assert {cls.__name__ for cls in ERROR_CLASSES} == set(errors.__all__)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_each_error_is_also_a_builtin_and_never_a_key_error(cls: type[LoyaltyError]) -> None:
    if cls is LoyaltyError:
        return
    assert issubclass(cls, BUILTINS)
    assert not issubclass(cls, KeyError)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_each_error_pickles_with_its_context(cls: type[LoyaltyError]) -> None:
    err = cls("points=-5 must be a positive int", field="points", value=-5)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert str(again) == str(err)
    assert (again.field, again.value) == ("points", -5)


def test_invalid_data_lists_every_path_and_pickles() -> None:
    err = InvalidData.from_messages(["a @ $.x", "b @ $.y[2]"], what="rule set")
    assert err.errors == ("a @ $.x", "b @ $.y[2]")
    assert "invalid rule set" in str(err)
    assert pickle.loads(pickle.dumps(err)).errors == err.errors

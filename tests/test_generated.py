"""Generated code carries a file name of its own, so tracebacks show its lines."""

from __future__ import annotations

import linecache
import traceback
from datetime import UTC

import pytest

from loyaltycore._generated import run_generated
from loyaltycore.points import _records
from loyaltycore.points._state import instant
from loyaltycore.points._values import EVENT_TYPES, Earned, Redeemed
from loyaltycore.rules._codegen import compile_engine


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(exc.__traceback__)


def test_a_traceback_through_a_points_reader_shows_the_generated_line() -> None:
    read = _records._READ[_records.CODE[Earned]][1]
    with pytest.raises(IndexError) as info:
        read([_records.W_PLAIN_EARN], 0, (), "e1", [], [], instant)  # (record cut short)
    last = _frames(info.value)[-1]
    assert last.filename.startswith("<loyaltycore points reader Earned ")
    assert last.line is not None
    assert "h[i]" in last.line
    assert "h[i]" in "".join(traceback.format_exception(info.value))


def test_every_points_generator_registers_its_own_file() -> None:
    names = {
        fn.__code__.co_filename
        for table in (_records._WRITE, _records._CANON, _records._ENCODE)
        for fn in table.values()
    }
    names |= {read.__code__.co_filename for _, read, _ in _records._READ[1:]}
    names |= {skip.__code__.co_filename for skip in _records._SKIP[1:]}
    assert len(names) == 5 * (len(EVENT_TYPES) - 1)  # (Opened has no record)
    for name in names:
        assert linecache.getline(name, 1).startswith("def ")
    writer = _records._WRITE[Redeemed].__code__.co_filename
    assert writer.startswith("<loyaltycore points writer Redeemed ")


def test_a_traceback_through_a_compiled_rule_set_shows_the_generated_line() -> None:
    run, _ = compile_engine(
        [], [], [], tz=UTC, tiers=[], tier_fractions=[], resolve=print, has_valid=[]
    )
    assert run.__code__.co_filename.startswith("<loyaltycore rules ")
    with pytest.raises(AttributeError) as info:
        run(None, None, None, None, None)
    last = _frames(info.value)[-1]
    assert last.filename == run.__code__.co_filename
    assert last.line == "codes = s.codes"


def test_different_sources_get_different_names_and_equal_ones_share() -> None:
    scope: dict[str, object] = {}
    one = run_generated("def f():\n    return 1\n", "test", scope)
    two = run_generated("def f():\n    return 2\n", "test", scope)
    again = run_generated("def f():\n    return 1", "test", scope)  # (newline added)
    assert one != two
    assert one == again
    assert linecache.getline(two, 2) == "    return 2\n"

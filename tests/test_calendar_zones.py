"""Zones come from the bundled tzdata package only, whatever the host has."""

from __future__ import annotations

import importlib.resources
import json
import os
import pickle
import subprocess
import sys
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from loyaltycore import calendar as cal
from loyaltycore import serialize
from loyaltycore.errors import InvalidArgument, InvalidData, InvalidType
from loyaltycore.rules import RuleSet

BAD_NAMES = [
    "x" * 300,
    "Europe",
    "Europe/",
    "/Europe/Paris",
    "Europe//Paris",
    "Europe/../Europe/Paris",
    "../../etc/passwd",
    "/etc/localtime",
    "localtime",
    "posixrules",
    "zone.tab",
    "tzdata.zi",
    "europe/paris",
    " Europe/Paris",
    "Europe/Paris\x00",
    "Europe\\Paris",
    "",
    ".",
    "..",
    "Mars/Olympus",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_a_name_that_is_not_a_bundled_key_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match="is not an IANA time zone") as info:
        cal.zone(name)
    assert info.value.field == "tz"
    assert info.value.value == name


@pytest.mark.parametrize("name", ["x" * 300, "Europe", "localtime", "../../etc/passwd"])
def test_a_document_naming_a_bad_zone_is_invalid_data_at_its_path(name: str) -> None:
    doc = {"schema": "rules.RuleSet", "version": 1, "data": {"rules": [], "tz": name}}
    with pytest.raises(InvalidData, match=r"is not an IANA time zone @ \$\.data\.tz"):
        serialize.from_data(doc)


def test_a_zone_object_the_host_made_for_a_key_is_read_from_the_bundle() -> None:
    bundled = cal.zone("Europe/Paris")
    assert cal.zone(ZoneInfo("Europe/Paris")) is bundled
    assert cal.zone(ZoneInfo.no_cache("Europe/Paris")) is bundled
    with pytest.raises(InvalidArgument, match="'localtime'"):
        cal.zone(ZoneInfo("localtime"))


def test_other_tzinfo_objects_pass_through_unchanged() -> None:
    fixed = timezone(timedelta(hours=2))
    assert cal.zone(fixed) is fixed
    with importlib.resources.files("tzdata.zoneinfo").joinpath("Asia", "Tokyo").open("rb") as f:
        keyless = ZoneInfo.from_file(f)
    assert cal.zone(keyless) is keyless
    with pytest.raises(InvalidType):
        cal.zone(b"Europe/Paris")  # type: ignore[arg-type]


def test_a_bundled_zone_pickles_by_key_and_keeps_its_identity() -> None:
    paris = cal.zone("Europe/Paris")
    assert pickle.loads(pickle.dumps(paris)) is paris
    assert str(paris) == paris.key == "Europe/Paris"  # type: ignore[attr-defined]
    rules = RuleSet([], tz="Europe/Paris")
    assert pickle.loads(pickle.dumps(rules)) == rules
    assert serialize.loads(serialize.dumps(rules)) == rules


def test_every_bundled_key_loads() -> None:
    keys = importlib.resources.files("tzdata").joinpath("zones").read_text().split()
    assert len(keys) > 500
    for key in keys:
        assert cal.zone(key).utcoffset(datetime(2024, 1, 1)) is not None


_PROBE = """
import json, zoneinfo
from datetime import date, datetime, timezone
from loyaltycore import calendar as cal, serialize
from loyaltycore.predicates import Event, Member, on_weekdays
from loyaltycore.rules import FixedPoints, Rule, RuleSet

paris = cal.zone("Europe/Paris")
doc = {"schema": "rules.RuleSet", "version": 1, "data": {
    "rules": [], "tz": "Europe/Paris"}}
loaded = serialize.from_data(doc).tz
rules = RuleSet([Rule("mon", on_weekdays("MO"), FixedPoints(1))], tz="Europe/Paris")
late = datetime(2024, 7, 7, 22, 30, tzinfo=timezone.utc)  # Monday 00:30 in Paris
try:
    cal.zone("localtime")
    localtime = "accepted"
except Exception as exc:
    localtime = type(exc).__name__
print(json.dumps({
    "midnight": cal.start_of_day(date(2024, 12, 31), tz=paris).isoformat(),
    "summer": cal.start_of_day(date(2024, 7, 1), tz=loaded).isoformat(),
    "monday": rules.evaluate(Event("e", "purchase", late), Member("m")).points,
    "localtime": localtime,
    "tzpath": list(zoneinfo.TZPATH),
    "host_paris": str(datetime(2024, 7, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")).utcoffset()),
}))
"""


def _probe(tzpath: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONTZPATH", "TZ")}
    if tzpath is not None:
        env["PYTHONTZPATH"] = tzpath
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_a_hostile_zone_directory_changes_nothing(tmp_path: Path) -> None:
    # A directory on PYTHONTZPATH whose Europe/Paris is really Los Angeles.
    (tmp_path / "Europe").mkdir()
    la = importlib.resources.files("tzdata.zoneinfo").joinpath("America", "Los_Angeles")
    (tmp_path / "Europe" / "Paris").write_bytes(la.read_bytes())
    (tmp_path / "localtime").write_bytes(la.read_bytes())
    clean = _probe(None)
    hostile = _probe(str(tmp_path))
    assert clean["midnight"] == "2024-12-30T23:00:00+00:00"
    assert clean["summer"] == "2024-06-30T22:00:00+00:00"
    assert clean["monday"] == 1
    for key in ("midnight", "summer", "monday"):
        assert hostile[key] == clean[key], key
    assert clean["localtime"] == hostile["localtime"] == "InvalidArgument"
    # The process's own zone settings are left as the host set them.
    assert hostile["tzpath"] == [str(tmp_path)]
    assert hostile["host_paris"] == "-1 day, 17:00:00"
    assert clean["tzpath"] == list(zoneinfo.TZPATH)

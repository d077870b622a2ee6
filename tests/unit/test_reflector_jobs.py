"""The reflector's jobs: the key that signs them, what a worker takes, and
the memory store's bounds."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from exposcan.reflector.jobs import ScanPolicy
from exposcan.reflector.quota import MemoryStore, _Expiring
from exposcan.reflector.scope import ScopeError, Sources
from exposcan.reflector.signing import SignatureError, load_key, make_key, sign
from exposcan.reflector.tokens import TokenFileError
from exposcan.reflector.worker import WorkerRules, accept_job

LAB = Sources.parse("203.0.113.0/24,2001:db8::/32")


def test_job_key_file(tmp_path: Path) -> None:
    # Given a key made by 'reflector job-key', Then it loads, mode 0600
    path = tmp_path / "job.key"
    make_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key(path)) == 32
    # Given it readable by others, too short, or not hex, Then refused
    path.chmod(0o644)
    with pytest.raises(TokenFileError, match="chmod 600"):
        load_key(path)
    for text in ("ab" * 8, "not hex"):
        bad = tmp_path / f"bad-{len(text)}"
        bad.write_text(text)
        bad.chmod(0o600)
        with pytest.raises(TokenFileError):
            load_key(bad)


KEY = b"k" * 32
WORKER = WorkerRules(ScanPolicy(ports_spec="1-1024", deadline=60.0), LAB, KEY)


def _order(**change: object) -> dict[str, object]:
    order: dict[str, object] = {
        "id": "j1",
        "addresses": ["203.0.113.10"],
        "ports": "80,443",
        "deadline": 30.0,
        "expires": time.time() + 60,
    }
    order.update(change)
    return order


def test_worker_takes_a_signed_job_in_scope() -> None:
    # Given a job signed with the key, Then its addresses and a policy no
    # wider than the worker's
    addresses, policy = accept_job(WORKER, "j1", (sign(KEY, "job", _order()),), {})
    assert addresses == ["203.0.113.10"] and policy.ports == (80, 443)
    assert policy.deadline == 30.0
    six = ["2001:db8:ca:100::1", "2001:db8:ca:100::5"]
    assert accept_job(WORKER, "j1", (sign(KEY, "job", _order(addresses=six)),), {})[0] == six


@pytest.mark.parametrize(
    "change",
    [
        {"addresses": ["198.51.100.7"]},  # outside the worker's sources
        {"addresses": [f"203.0.113.{n}" for n in range(1, 201)]},  # 200 addresses
        {"addresses": ["::ffff:203.0.113.10"]},  # IPv4, mapped
        {"addresses": ["203.0.113.10", "::ffff:203.0.113.11"]},
        {"addresses": ["2001:db8:ca:100::1", "2001:db8:ca:101::5"]},  # outside its /64
        {"addresses": ["2001:db8:ca:100::1", "2001:db8:ca:100::5%lo"]},
        {"addresses": ["203.0.113.010"]},
        {"addresses": []},
        {"deadline": "30"},
        {"deadline": -1},
        {"deadline": True},
        {"expires": time.time() - 1},
        {"ports": "1-65535"},  # wider than the worker's --ports
        {"id": "another"},
    ],
)
def test_worker_refuses_a_signed_job_out_of_bounds(change: dict[str, object]) -> None:
    # Given a job signed with the right key but out of the worker's rules
    # (a front with a bug, or a key that leaked), Then refused all the same
    with pytest.raises((ScopeError, SignatureError)):
        accept_job(WORKER, "j1", (sign(KEY, "job", _order(**change)),), {})


def test_worker_refuses_what_the_key_did_not_sign() -> None:
    envelope = sign(KEY, "job", _order())
    nan = {"job": {**_order(), "deadline": float("nan")}, "sig": envelope["sig"]}
    for args in (
        ("203.0.113.10",),
        (["203.0.113.10"], "80", 30.0),
        (sign(b"x" * 32, "job", _order()),),
        ({**envelope, "job": _order(addresses=["203.0.113.11"])},),
        (nan,),
    ):
        with pytest.raises(SignatureError):
            accept_job(WORKER, "j1", args, {})


class _NoWalk(dict[str, tuple[float, str | int]]):
    """A store's entries that refuse to be walked."""

    def items(self):  # type: ignore[no-untyped-def,override]
        raise AssertionError("the store walked every entry")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the store walked every entry")

    keys = values = items  # type: ignore[assignment]


def test_a_full_store_finds_expired_entries_without_a_walk() -> None:
    # Given a full store: 1,000 live entries and 1,000 about to expire
    room = _Expiring(2000)
    for n in range(1000):
        room.put(f"live{n}", 1, 3600)
        room.put(f"short{n}", 1, 0.05)
    room.values = _NoWalk(room.values)
    time.sleep(0.1)
    # When entries are added, Then the expired ones make room without a walk
    for n in range(1000):
        room.put(f"new{n}", 1, 3600)
    assert len(room.values) == 2000
    # And a store full of live entries refuses one more, without a walk either
    with pytest.raises(RuntimeError, match="full"):
        room.put("one more", 1, 3600)


async def test_a_counter_given_back_to_zero_is_deleted() -> None:
    store = MemoryStore(16)
    assert await store.take("day:x:source:a", 10)
    assert await store.take("day:x:source:a", 10)
    await store.give_back("day:x:source:a")
    assert await store.used("day:x:source:a") == 1
    await store.give_back("day:x:source:a")
    # Then nothing stays: a counter at 0 holds no room for two days
    assert len(store) == 0

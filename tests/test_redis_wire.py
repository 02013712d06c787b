"""Commands packed in one pass are the bytes redis-py would write, for every argument the store sends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from daemon.store.redis_wire import OnePassPacking, pack_in_one_pass

ARGS = st.one_of(
    st.text(max_size=40), st.binary(max_size=9000), st.integers(-(2**63), 2**63), st.floats(allow_nan=False)
)
COMMANDS = st.sampled_from(["EVALSHA", "SCRIPT LOAD", b"CLIENT SETNAME", b"HGET"])


class Packed(OnePassPacking, Connection):
    pass


@settings(max_examples=300, deadline=None)
@given(COMMANDS, st.lists(ARGS, max_size=60))
def test_the_bytes_are_redis_pys(command: str | bytes, args: list[object]) -> None:
    theirs, ours = Connection(), Packed()
    assert b"".join(ours.pack_command(command, *args)) == b"".join(theirs.pack_command(command, *args))


def test_what_redis_py_refuses_is_still_refused() -> None:
    with pytest.raises(DataError):
        Packed().pack_command("SET", "k", True)


def test_another_encoding_is_packed_by_redis_py() -> None:
    theirs, ours = Connection(encoding="latin-1"), Packed(encoding="latin-1")
    assert ours.pack_command("SET", "k", "é") == theirs.pack_command("SET", "k", "é")


@pytest.mark.parametrize("base", [Connection, SSLConnection, UnixDomainSocketConnection])
def test_every_kind_of_connection_is_packed_in_one_pass(base: type[Connection]) -> None:
    class Pool:
        connection_class: type[Connection] = base

    pool = Pool()
    pack_in_one_pass(pool)
    assert issubclass(pool.connection_class, OnePassPacking)
    assert issubclass(pool.connection_class, base)
    made = pool.connection_class
    pack_in_one_pass(pool)
    assert pool.connection_class is made  # once

"""Commands packed for the wire in one pass: redis-py's own packing re-copies its buffer at each argument, and
a decision's COMMIT carries several arguments per alert, so in a storm packing cost more than the round trip.

The bytes are the same RESP redis-py writes (its tests of the store run through this); anything other than
str, bytes and int goes through redis-py's encoder as before (a bool is refused there, a float is its repr).
"""

from __future__ import annotations

from typing import Any


class OnePassPacking:
    """Mixed in before redis-py's connection class (plain, TLS, unix socket or sentinel-managed alike)."""

    encoder: Any

    def pack_command(self, *args: Any) -> list[bytes]:
        encoder = self.encoder
        if encoder.encoding.lower().replace("-", "") != "utf8" or encoder.encoding_errors != "strict":
            packed: list[bytes] = super().pack_command(*args)  # type: ignore[misc]
            return packed
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]  # "SCRIPT LOAD" is two arguments on the wire
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        pieces = [b"*%d\r\n" % len(args)]
        for arg in args:
            kind = type(arg)
            if kind is str:
                arg = arg.encode()
            elif kind is int:
                arg = b"%d" % arg
            elif kind is not bytes:
                arg = bytes(encoder.encode(arg))
            pieces.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
        return [b"".join(pieces)]


def pack_in_one_pass(pool: Any) -> None:
    """Have ``pool`` make its connections with ``OnePassPacking``, whatever class it was given."""
    base = pool.connection_class
    if not issubclass(base, OnePassPacking):
        pool.connection_class = type(f"OnePass{base.__name__}", (OnePassPacking, base), {})

"""`MessageFramer` cuts any split of any stream exactly as the plain reference framer does.

The framer reads each call's bytes as one `bytes` object, checks UPDATE headers inline and skips the
copy while a pending message is still incomplete (all for speed). The reference below is the framer as
first written (every header through `check_header`, each message sliced out of a `bytearray`): for
random streams of good and broken messages, cut at random points, both must return the same messages,
raise the same NOTIFICATION (code, subcode, data) at the same call, and hold the same leftover.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.wire.constants import HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN
from pybgp.wire.errors import NotificationError
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import check_header


class ReferenceFramer:
    """The framer as first written: the behaviour `MessageFramer` must keep."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.buf = bytearray()
        self.error: NotificationError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            raise self.error
        buf = self.buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        try:
            while end - pos >= HEADER_LEN:
                length, _ = check_header(bytes(buf[pos : pos + HEADER_LEN]), self.max_len)
                if length < HEADER_LEN or length > self.max_len:
                    raise NotificationError(1, 2, length.to_bytes(2, "big"), f"bad length {length}")
                if end - pos < length:
                    break
                out.append(bytes(buf[pos : pos + length]))
                pos += length
        except NotificationError as exc:
            self.error = exc
            del buf[:]
            if not out:
                raise
            return out
        del buf[:pos]
        return out


def _message(mtype: int, body: bytes, length: int | None = None, marker: bytes = MARKER) -> bytes:
    size = HEADER_LEN + len(body) if length is None else length
    return marker + size.to_bytes(2, "big") + bytes((mtype,)) + body


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A message: usually well-formed (UPDATE, KEEPALIVE, OPEN-sized, ROUTE-REFRESH, large UPDATEs
    past 4096 octets), sometimes with a bad marker, type or length."""
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return _message(2, draw(st.binary(min_size=4, max_size=60)))
    if kind == 4:
        return _message(4, b"")
    if kind == 5:
        return _message(5, draw(st.binary(min_size=0, max_size=8)))  # RFC 7313: own length errors
    if kind == 6:
        return _message(2, bytes(draw(st.integers(4000, 5000))))  # beyond 4096 unless extended
    if kind == 7:
        return _message(draw(st.integers(0, 255)), draw(st.binary(max_size=10)))
    if kind == 8:
        length = draw(st.integers(0, 65535) | st.integers(0, 30))
        return _message(2, draw(st.binary(min_size=4, max_size=20)), length=length)
    marker = draw(st.binary(min_size=16, max_size=16))
    return _message(2, draw(st.binary(min_size=4, max_size=20)), marker=marker)


def _run(framer: MessageFramer | ReferenceFramer, pieces: list[bytes]) -> list[object]:
    log: list[object] = []
    for piece in pieces:
        try:
            log.append(framer.feed(piece))
        except NotificationError as exc:
            log.append(("raised", exc.code, exc.subcode, exc.data))
        log.append(len(framer.buf) if isinstance(framer, ReferenceFramer) else framer.buffered)
    return log


@settings(max_examples=300, deadline=None)
@given(
    msgs=st.lists(messages(), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 1 << 16), max_size=12),
    extended=st.booleans(),
    trailing=st.binary(max_size=25),
)
def test_any_split_frames_like_the_reference(
    msgs: list[bytes], cuts: list[int], extended: bool, trailing: bytes
) -> None:
    stream = b"".join(msgs) + trailing
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(points)] + [b""]
    max_len = MAX_EXTENDED_MESSAGE_LEN if extended else MAX_MESSAGE_LEN
    assert _run(MessageFramer(max_len), pieces) == _run(ReferenceFramer(max_len), pieces)


def test_byte_by_byte_and_buffer_types() -> None:
    msgs = [_message(2, bytes(40)), _message(4, b""), _message(2, bytes(4000))]
    stream = b"".join(msgs)
    framer = MessageFramer()
    got: list[bytes] = []
    for i in range(len(stream)):
        got += framer.feed(stream[i : i + 1])
    assert got == msgs and framer.buffered == 0
    for kind in (bytearray, memoryview):
        framer = MessageFramer()
        out = framer.feed(kind(stream[:100])) + framer.feed(kind(stream[100:]))
        assert out == msgs and all(type(m) is bytes for m in out)

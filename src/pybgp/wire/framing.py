"""Cutting a TCP byte stream into whole BGP messages (RFC 4271 section 4.1 header).

Owns: `MessageFramer`, which buffers what `feed()` gets and hands back complete messages, checking
each header as soon as its 19 octets are in. Never does: decode message bodies, read sockets, or
recover after an error (a bad header ends the session, so the framer stays broken once it raised).
"""

from __future__ import annotations

from pybgp.wire.constants import HEADER_LEN, MAX_MESSAGE_LEN
from pybgp.wire.errors import NotificationError
from pybgp.wire.messages import check_header


class MessageFramer:
    """Accumulates stream bytes; `feed()` returns every whole message now available.

    `max_len` starts at 4096 and is raised to 65535 once RFC 8654 extended messages are negotiated.
    Raises `NotificationError` (Message Header Error) on a bad marker, length or type, and keeps
    raising it on later calls: the stream cannot be resynchronised.
    """

    __slots__ = ("_buf", "_error", "max_len")

    def __init__(self, max_len: int = MAX_MESSAGE_LEN) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._error: NotificationError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet part of a whole message."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add stream bytes; return the whole messages now complete, in order.

        Messages completed before a bad header are still returned; the error is raised on the next call.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        try:
            while end - pos >= HEADER_LEN:
                length, _ = check_header(bytes(buf[pos : pos + HEADER_LEN]), self.max_len)
                if length < HEADER_LEN or length > self.max_len:
                    # Only ROUTE-REFRESH reaches here unchecked (RFC 7313 reports its own length errors),
                    # but a length outside the header..max range can never be framed.
                    raise NotificationError(1, 2, length.to_bytes(2, "big"), f"bad length {length}")
                if end - pos < length:
                    break
                out.append(bytes(buf[pos : pos + length]))
                pos += length
        except NotificationError as exc:
            self._error = exc
            del buf[:]
            if not out:
                raise
            return out
        del buf[:pos]
        return out

"""Cutting a TCP byte stream into whole BGP messages (RFC 4271 section 4.1 header).

Owns: `MessageFramer`, which buffers what `feed()` gets and hands back complete messages, checking
each header as soon as its 19 octets are in. Never does: decode message bodies, read sockets, or
recover after an error (a bad header ends the session, so the framer stays broken once it raised).
"""

from __future__ import annotations

from pybgp.wire.constants import HEADER_LEN, MARKER, MAX_MESSAGE_LEN, MIN_LENGTH, MessageType
from pybgp.wire.errors import NotificationError
from pybgp.wire.messages import check_header

_UPDATE = int(MessageType.UPDATE)
_UPDATE_MIN = MIN_LENGTH[MessageType.UPDATE]


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

        The stream is read from one `bytes` object (the leftover of the last call joined to `data`, or
        `data` itself when nothing was left over), so each message is one slice of it: one copy per
        message, not two; the leftover (part of one message) is copied once more. A well-formed
        UPDATE header (the common case of a loaded session) is checked inline, as `decode_message`
        does; every other header goes through `check_header`.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        if buf:
            checked = len(buf) >= HEADER_LEN  # a whole header left over was checked when it came in
            buf += data
            if checked and len(buf) < (buf[16] << 8) | buf[17]:
                # The pending message is still incomplete: nothing to copy yet, so a message
                # trickling in costs no more than its bytes.
                return []
            stream = bytes(buf)
        else:
            stream = data if type(data) is bytes else bytes(data)
        out: list[bytes] = []
        append = out.append
        pos = 0
        end = len(stream)
        max_len = self.max_len
        try:
            while end - pos >= HEADER_LEN:
                length = (stream[pos + 16] << 8) | stream[pos + 17]
                if not (
                    stream[pos + 18] == _UPDATE
                    and _UPDATE_MIN <= length <= max_len
                    and stream.startswith(MARKER, pos)
                ):
                    length, _ = check_header(stream[pos : pos + HEADER_LEN], max_len)
                    if length < HEADER_LEN or length > max_len:
                        # Only ROUTE-REFRESH reaches here unchecked (RFC 7313 reports its own length
                        # errors), but a length outside the header..max range can never be framed.
                        raise NotificationError(1, 2, length.to_bytes(2, "big"), f"bad length {length}")
                if end - pos < length:
                    break
                append(stream[pos : pos + length])
                pos += length
        except NotificationError as exc:
            self._error = exc
            self._buf = bytearray()
            if not out:
                raise
            return out
        self._buf = bytearray(memoryview(stream)[pos:]) if pos < end else bytearray()
        return out

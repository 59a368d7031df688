"""Stand-ins shared by the `aio` tests that drive a `_Connection` without a socket."""

from __future__ import annotations


class FakeTransport:
    """The reading switch of a transport, recorded (what `_Connection.set_reading` and `close` touch)."""

    def __init__(self) -> None:
        self.reading = True
        self.closing = False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

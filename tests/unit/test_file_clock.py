"""The rehearsal clock several `serve` processes share (CLOCK_FILE): a read that catches the file
half-written is read again, and a moment without a zone is UTC."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import FileClock


class Reads:
    """The file's text at each successive read."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)

    def read_text(self) -> str:
        return self.texts.pop(0)


def test_the_moment_in_the_file_is_now(tmp_path):
    (tmp_path / "clock").write_text("2026-09-01T10:00:00\n")
    assert FileClock(str(tmp_path / "clock")).now() == datetime(2026, 9, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("torn", ["", "2026-09-0", "2026-09-01T1"])
def test_a_half_written_file_is_read_again(tmp_path, torn):
    clock = FileClock(str(tmp_path / "clock"))
    clock.path = Reads(torn, "2026-09-01T10:00:00+02:00")
    assert clock.now() == datetime(2026, 9, 1, 8, tzinfo=UTC)


def test_a_file_that_stays_wrong_is_an_error_not_a_guess(tmp_path):
    clock = FileClock(str(tmp_path / "clock"))
    clock.path = Reads("", "")
    with pytest.raises(ValueError):
        clock.now()

"""`make console-screenshots` works: every console page as a PNG at laptop and phone width."""
from __future__ import annotations

import struct

from tests.browser.screenshots import take


def test_every_page_is_photographed_at_laptop_and_phone_width(tmp_path):
    written = take(tmp_path)
    names = {p.name for p in written}
    for page in ("programmes", "pairs", "import", "announce", "report", "pairs-da"):
        assert {f"console-{page}-laptop.png", f"console-{page}-phone.png"} <= names
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        width, height = struct.unpack(">II", data[16:24])
        assert width == (390 if "phone" in path.name else 1280) and height >= 600, path

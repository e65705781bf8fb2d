"""Build the Teams app package: `bot/teams/package/` zipped, with the bot's app id filled in.

    make teams-package                 # dist/teams-app.zip, app id from $MICROSOFT_APP_ID
    python bot/teams/package.py [--app-id GUID] [--out dist/teams-app.zip]
    python bot/teams/package.py --icons      # redraw color.png and outline.png

Standard library only, so it runs before anything is installed.
"""
from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "package"
ROOT = HERE.parent.parent
PLACEHOLDER = "{{MICROSOFT_APP_ID}}"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FILES = ("manifest.json", "da.json", "color.png", "outline.png")
ACCENT = (0x2E, 0x6B, 0x5E)


def build(app_id: str, out: Path) -> Path:
    if not GUID.match(app_id):
        raise ValueError(f"the app id must be the bot registration's GUID, not {app_id!r}")
    manifest = (SOURCE / "manifest.json").read_text(encoding="utf-8").replace(PLACEHOLDER, app_id)
    json.loads(manifest)  # still valid JSON
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            if name == "manifest.json":
                archive.writestr(name, manifest)
            else:
                archive.write(SOURCE / name, name)
    return out


def png(width: int, height: int, pixels: list[bytes]) -> bytes:
    """A minimal RGBA PNG: one IHDR, one IDAT, one IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _coverage(size: int, x: int, y: int) -> float:
    """How much of pixel (x, y) two interlocking rings cover (mentor and mentee), 4x4 samples."""
    radius, width = 0.22 * size, max(0.07 * size, 2.2)
    centres = ((0.38 * size, 0.5 * size), (0.62 * size, 0.5 * size))
    hits = 0
    for sy in range(4):
        for sx in range(4):
            px, py = x + (sx + 0.5) / 4, y + (sy + 0.5) / 4
            if any(abs(((px - cx) ** 2 + (py - cy) ** 2) ** 0.5 - radius) <= width / 2
                   for cx, cy in centres):
                hits += 1
    return hits / 16


def draw_icons() -> None:
    color = []
    for y in range(192):
        row = bytearray()
        for x in range(192):
            c = _coverage(192, x, y)
            row += bytes(round(a + (255 - a) * c) for a in ACCENT) + b"\xff"
        color.append(bytes(row))
    (SOURCE / "color.png").write_bytes(png(192, 192, color))
    outline = [b"".join(b"\xff\xff\xff" + bytes([round(255 * _coverage(32, x, y))])
                        for x in range(32)) for y in range(32)]
    (SOURCE / "outline.png").write_bytes(png(32, 32, outline))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Zip the Teams app package for upload.")
    if str(ROOT) not in sys.path:  # run as `python bot/teams/package.py` (make teams-package)
        sys.path.insert(0, str(ROOT))
    from bot.settings import Settings

    app_id = Settings.from_environ().env.get("MICROSOFT_APP_ID", "")
    parser.add_argument("--app-id", default=app_id,
                        help="the bot registration's app id (default: $MICROSOFT_APP_ID)")
    parser.add_argument("--out", default=str(ROOT / "dist" / "teams-app.zip"))
    parser.add_argument("--icons", action="store_true", help="redraw the two icons and stop")
    args = parser.parse_args(argv)
    if args.icons:
        draw_icons()
        print(f"Drew {SOURCE / 'color.png'} and {SOURCE / 'outline.png'}")
        return 0
    if not args.app_id:
        print("Set MICROSOFT_APP_ID (or pass --app-id) to the bot registration's app id.",
              file=sys.stderr)
        return 2
    try:
        out = build(args.app_id.strip(), Path(args.out))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Teams app package: {out} (upload it in Teams: Apps > Manage your apps > Upload an app)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

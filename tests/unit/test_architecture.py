"""The dependency rule, checked: the engine knows no platform, no scheduler, no database toolkit."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("slack_bolt", "slack_sdk", "botbuilder", "aiohttp", "apscheduler", "sqlalchemy",
             "sqlmodel", "bot")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_conversations_import_no_platform_or_infrastructure():
    breaches = [(str(p.relative_to(ROOT)), name)
                for p in (ROOT / "conversations").rglob("*.py")
                for name in _imports(p) if name.split(".")[0] in FORBIDDEN]
    assert breaches == []


def test_storage_imports_no_platform_code():
    breaches = [(str(p.relative_to(ROOT)), name)
                for p in (ROOT / "storage").rglob("*.py")
                for name in _imports(p) if name.split(".")[0] in ("bot", "conversations",
                                                                  "slack_bolt", "botbuilder")]
    assert breaches == []


def test_engine_never_reads_the_wall_clock():
    offenders = []
    for path in (ROOT / "conversations").rglob("*.py"):
        source = path.read_text()
        for needle in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if needle in source:
                offenders.append((path.name, needle))
    assert offenders == []

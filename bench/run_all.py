"""`make bench`: every benchmark in bench/, one after the other, printing its figures."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in sorted(HERE.glob("*.py")):
    if script.name in ("run_all.py", "__init__.py") or script.name.startswith("_"):
        continue
    print(f"\n== {script.name}")
    subprocess.run([sys.executable, str(script)], check=False)

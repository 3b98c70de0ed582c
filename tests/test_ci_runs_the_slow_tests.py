"""CI runs the README's test command first, then the slow tests that command leaves out."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_command_then_the_slow_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"Tests:\s*```bash\n(.*?)\n```", readme, re.S).group(1).strip()
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    runs = [i for i, line in enumerate(lines) if "-m pytest" in line]
    assert lines[runs[0]] == command  # the README's command, first
    assert lines[runs[1]] == ".venv/bin/python -m pytest -q -m slow"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    addopts = re.search(r'^addopts = "(.*)"$', pyproject, re.M).group(1)
    assert shlex.split(addopts)[-2:] == ["-m", "not slow"]

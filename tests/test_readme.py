"""The README stays true: its two commands, its scenario reference, its Python example."""

from __future__ import annotations

import re
from pathlib import Path

from accessplan.scenario_schema import SCHEMA, SUPPLY_KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_first_code_block_holds_exactly_the_two_commands():
    first = re.search(r"```[a-z]*\n(.*?)```", README, re.S).group(1)
    assert [line.strip() for line in first.strip().splitlines()] == ["make demo", "make test"]


def test_scenario_reference_lists_every_key():
    for section, keys in SCHEMA.items():
        assert f"**[{section}]**" in README
        for name in keys:
            assert f"| `{name}` |" in README, f"[{section}] {name} is not documented"
    for name in SUPPLY_KEYS:
        assert f"| `{name}` |" in README


def test_python_example_runs():
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["after"]["total"].sum() > namespace["before"]["total"].sum()
    assert (namespace["after"]["clinic"] == namespace["before"]["clinic"]).all()

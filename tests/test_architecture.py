"""The dependency rule, checked on the source: the job engine knows no Discord, the bot's own
modules import one another without a circle, and a normal start never loads the simulator."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("bot", "cogs")
ENGINE = "bot.jobs"
# What the engine may not import, directly or through another module.
NOT_FOR_THE_ENGINE = (
    "discord",
    "bot.ui",
    "bot.discord_side",
    "bot.discord_bot",
    "bot.launch",
    "bot.errors",
    "bot.validation",
    "bot.choices",
    "bot.catalogue",
    "cogs",
    "bot.miraflow.simulator",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """The modules `name` imports: (at run time, only for type checkers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            typing_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    runtime: set[str] = set()
    typing: set[str] = set()
    for node in ast.walk(tree):
        found: set[str] = set()
        if isinstance(node, ast.Import):
            found = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found = {base}
            # `from package import module` imports the module too.
            found |= {f"{base}.{alias.name}" for alias in node.names} & known
        else:
            continue
        # Every module imports its own packages first: not a dependency the source chose.
        found = {target for target in found if not name.startswith(target + ".")}
        (typing if id(node) in typing_only else runtime).update(found)
    return runtime, typing


def graph(include_typing: bool) -> dict[str, set[str]]:
    modules = own_modules()
    known = set(modules)
    edges = {}
    for name, path in modules.items():
        runtime, typing = imports_of(name, path, known)
        edges[name] = runtime | typing if include_typing else runtime
    return edges


def test_the_engine_imports_no_discord_ui_or_commands() -> None:
    edges = graph(include_typing=True)
    engine = [name for name in edges if name == ENGINE or name.startswith(ENGINE + ".")]
    assert len(engine) > 10, engine
    offences = [
        f"{name} imports {target}"
        for name in engine
        for target in edges[name]
        if any(target == bad or target.startswith(bad + ".") for bad in NOT_FOR_THE_ENGINE)
    ]
    assert offences == []


def test_the_engine_loads_without_discord_at_all() -> None:
    """Transitively, at run time: loading every engine module leaves discord.py unloaded."""
    engine = sorted(name for name in own_modules() if name.startswith(ENGINE))
    code = (
        "import importlib, sys\n"
        f"for name in {engine!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'discord' or m.startswith("
        f"{tuple(NOT_FOR_THE_ENGINE)!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_miraflow_client_imports_no_app_code() -> None:
    """The client is a library the bot uses: metrics and the like reach it as callbacks."""
    edges = graph(include_typing=True)
    client = [
        name
        for name in edges
        if name.startswith("bot.miraflow") and not name.startswith("bot.miraflow.simulator")
    ]
    assert len(client) > 5, client
    offences = [
        f"{name} imports {target}"
        for name in client
        for target in edges[name]
        if target.split(".")[0] in PACKAGES and not target.startswith("bot.miraflow")
    ]
    assert offences == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle among the known modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in edges:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_among_the_bots_modules() -> None:
    # Only the edges the source writes: a package is not counted as imported by its own
    # modules (Python loads it first whatever they say).
    assert find_cycle(graph(include_typing=False)) is None


def test_no_import_circle_even_counting_type_checking_imports() -> None:
    # The simulator, a stand-alone test server the bot never imports, is left out: its
    # handlers name the simulator class for type checkers only.
    edges = {
        name: targets
        for name, targets in graph(include_typing=True).items()
        if not name.startswith("bot.miraflow.simulator")
    }
    assert find_cycle(edges) is None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_a_normal_start_never_imports_the_simulator(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "MIRAFLOW_API_KEY")}
    code = (
        "import sys\n"
        "import bot.discord_bot\n"
        "from bot.discord_bot import cog_modules\n"
        "from bot.__main__ import main\n"
        "cog_modules()\n"
        "assert main(['run']) == 2\n"  # no secrets: stops after reading its settings
        "print(','.join(m for m in sys.modules if 'simulator' in m))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""

"""The shape of the code, read from its imports (every import counts, also inside functions).

- ``operational``'s packages form layers, lowest first, in ``DOMAIN_LAYERS``: a package imports
  only packages below it, so there are no circles and ``core`` depends on no domain.
- Within the packages, routers → flows → services → models: a service (any module but a router,
  a flow or the request dependencies) never imports a router, a flow or a dependencies module;
  a flow never imports a router.
- The application modules (``main``, ``worker``, ``models``, ``cli``, ``migrations``) sit above
  every domain, and no domain imports them.
- Data flows one way between the top-level parts: ``operational``'s domains import no other part;
  ``ingest`` (a library the CLI and pipelines call) imports no pipelines, dashboards or sample
  data; the dashboards import neither ingest nor pipelines.

A new domain package must be placed in ``DOMAIN_LAYERS``: the test fails until it is.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPERATIONAL = ROOT / "operational"

DOMAIN_LAYERS = (
    "core",
    "tickets",
    "events",
    "audit",
    "auth",
    "imports",
    "notifications",
    "sla",
    "cmdb",
    "customfields",
    "incidents",
    "inbound",
    "changes",
    "requests",
    "problems",
    "automation",
    "knowledge",
    "bulk",
    "exports",
    "live",
    # The web UI: a client of the API over HTTP (in process); it imports no domain.
    "ui",
)
APPLICATION = {"main", "worker", "models", "cli", "migrations", "__init__", "__main__"}
UPPER_MODULES = {"router": "a router", "flows": "a flow", "dependencies": "request dependencies"}


@dataclass(frozen=True)
class Import:
    source: Path
    line: int
    target: str  # dotted module name

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> Iterator[Import]:
    """Every module the file imports, with ``from x import y`` read as x.y (y may be a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    folder = path if path.name == "__init__.py" else path.parent
    package = (
        _module_name(folder / "__init__.py", root) if folder != path else _module_name(path, root)
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module)
            for alias in node.names:
                yield Import(path, node.lineno, f"{module}.{alias.name}")


def _python_files(*folders: str) -> list[Path]:
    return sorted(
        path
        for folder in folders
        if (ROOT / folder).exists()
        for path in (ROOT / folder).rglob("*.py")
    )


def _package(path: Path, root: Path = ROOT) -> str:
    """The operational package (or application module) a file belongs to."""
    return path.relative_to(root / "operational").with_suffix("").parts[0]


OPERATIONAL_IMPORTS = [found for path in _python_files("operational") for found in imports_of(path)]


def test_every_operational_package_has_a_layer():
    packages = {
        path.name
        for path in OPERATIONAL.iterdir()
        if path.is_dir() and any(path.glob("*.py")) and path.name not in APPLICATION
    }
    unplaced = sorted(packages - set(DOMAIN_LAYERS))
    assert not unplaced, f"place these packages in DOMAIN_LAYERS: {unplaced}"


def upward_across_packages(imports: list[Import], root: Path = ROOT) -> list[str]:
    upward = []
    for found in imports:
        source = _package(found.source, root)
        target = found.target.split(".")
        if source in APPLICATION or target[0] != "operational" or len(target) < 2:
            continue
        if target[1] in APPLICATION:
            upward.append(f"{found} (a domain imports the application layer)")
        elif target[1] != source and DOMAIN_LAYERS.index(target[1]) > DOMAIN_LAYERS.index(source):
            upward.append(f"{found} ({target[1]} is above {source})")
    return sorted(set(upward))


def test_packages_import_only_the_layers_below_them():
    upward = upward_across_packages(OPERATIONAL_IMPORTS)
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def upward_within_layers(imports: list[Import], root: Path = ROOT) -> list[str]:
    upward = []
    for found in imports:
        if _package(found.source, root) in APPLICATION:
            continue
        source_module = found.source.stem
        target = found.target.split(".")
        if target[0] != "operational" or len(target) < 3:
            continue
        if target[2] not in UPPER_MODULES or source_module == "router":
            continue
        if source_module == "flows" and target[2] != "router":
            continue
        if source_module == "dependencies" and target[2] != "router":
            continue
        upward.append(f"{found} ({source_module} below {UPPER_MODULES[target[2]]})")
    return sorted(set(upward))


def test_services_never_import_flows_or_routers_and_flows_never_import_routers():
    upward = upward_within_layers(OPERATIONAL_IMPORTS)
    assert not upward, "calls that run upward:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("part", "forbidden"),
    [
        ("ingest", {"pipelines", "dashboards", "sampledata"}),
        ("dashboards", {"ingest", "pipelines", "sampledata"}),
    ],
)
def test_the_top_level_parts_import_one_way(part, forbidden):
    wrong = [
        str(found)
        for path in _python_files(part)
        for found in imports_of(path)
        if found.target.split(".")[0] in forbidden
    ]
    assert not wrong, "\n".join(wrong)


def test_operational_domains_import_no_other_part():
    wrong = [
        str(found)
        for found in OPERATIONAL_IMPORTS
        if _package(found.source) not in APPLICATION
        and found.target.split(".")[0] in {"ingest", "pipelines", "dashboards", "sampledata"}
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checks_fail_on_planted_upward_imports(tmp_path):
    """Imports inside functions and relative ones count: checks that could not see them could
    not fail."""
    planted = tmp_path / "operational" / "sla" / "timers.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        "def later():\n    from operational.incidents import flows\n\nfrom ..main import app\n"
    )
    found = list(imports_of(planted, tmp_path))
    reasons = {line.split(" (")[1] for line in upward_across_packages(found, tmp_path)}
    assert reasons == {"incidents is above sla)", "a domain imports the application layer)"}
    assert [line.split(" (")[1] for line in upward_within_layers(found, tmp_path)] == [
        "timers below a flow)"
    ]

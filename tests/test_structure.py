"""The house rules that keep the code easy to extend, checked on the source itself.

- no import cycle among the modules of ``reusevos_edge`` (``converters/`` included), counting every
  static import, lazy ones inside functions too;
- the runtime (bundle format, runners) never imports the exporters;
- one target table, one Clip, one tracking loop, one IoU, one atomic writer, one size rule, and no
  data path hard-coded in library code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"reusevos_edge": REPO / "reusevos_edge", "reusevos_edge.converters": REPO / "converters"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join((package, *parts))
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its file (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in known}
    return found - {name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_runtime_never_imports_the_exporters():
    graph = _graph()
    runtime = [m for m in graph if m.startswith("reusevos_edge.runtime")]
    assert runtime and not [(m, i) for m in runtime for i in graph[m] if i.startswith("reusevos_edge.converters")]


def _library_sources() -> dict[str, str]:
    return {name: path.read_text() for name, path in _modules().items()}


def _defining(pattern: str) -> list[str]:
    return sorted(name for name, text in _library_sources().items() if re.search(pattern, text, re.M))


def test_one_of_each():
    assert _defining(r"^class Clip\b") == ["reusevos_edge.data.clip"]
    assert _defining(r"^def track_clip\b") == ["reusevos_edge.tracker.run"]
    assert _defining(r"^def (mask_iou|jaccard)\b") == ["reusevos_edge.metrics.jf"]
    assert _defining(r"^def (decision_counts|count_decisions)\b") == ["reusevos_edge.tracker.run"]
    assert _defining(r"tempfile\.mk(s|d)temp|os\.replace\(") == ["reusevos_edge.fileio"]
    assert _defining(r"% 32\b|%32\b") == []  # the size rule is model.subgraphs.check_size
    assert _defining(r"^TARGETS\b") == ["reusevos_edge.targets"]
    assert _defining(r"^MANIFEST_NAME\b") == ["reusevos_edge.runtime.bundle_format"]


def test_no_target_name_dispatch_outside_the_table():
    hits = _defining(r"""[=!]= ["'](onnx|executorch|tflite|coreml)["']""")
    assert hits == []


def test_no_data_path_in_library_code():
    assert _defining(r"shared[/\"', ]+data|davis2016\"") == []


def test_every_package_is_listed_for_wheels():
    """pyproject.toml lists packages explicitly (converters/ lives outside reusevos_edge/): a new
    subpackage missing from the list is silently left out of wheels."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "reusevos_edge").rglob("__init__.py")}
    found |= {"reusevos_edge.converters"}
    assert found == listed

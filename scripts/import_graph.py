"""Import graph of our own packages: cycles between modules and imports between apps hidden inside functions.

    python scripts/import_graph.py [--verbose] [--check]

Counts every `import`/`from … import` of our packages (module level and inside functions), builds the module
graph, and prints the strongly connected components (import cycles) and the cross-app imports that sit inside a
function body. With --check (make lint, make test) it fails on any cycle and on any such hidden import that has no
comment saying why (on its line or the line above); import-linter (.importlinter) enforces the layers.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"migrations", "tests", "frontend", "bench", "scripts", "node_modules", ".venv", "docs", "deploy",
             "bridge"}


def packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name not in SKIP_DIRS)


def modules(pkgs: list[str]) -> dict[str, Path]:
    found = {}
    for pkg in pkgs:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if any(part in SKIP_DIRS for part in rel.parts[1:-1]):
                continue
            name = ".".join(rel.with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


class Visitor(ast.NodeVisitor):
    def __init__(self, module: str, known: dict[str, Path]) -> None:
        self.module, self.known, self.depth = module, known, 0
        self.edges: list[tuple[str, bool, int]] = []  # (target, inside a function, line)

    def _func(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _func

    def _add(self, target: str | None, line: int) -> None:
        if target and target != self.module:
            self.edges.append((target, self.depth > 0, line))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(resolve(alias.name, self.known), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative
            base = self.module.rsplit(".", node.level)[0] if not self.known[self.module].name == "__init__.py" \
                else self.module
            mod = f"{base}.{node.module}" if node.module else base
        else:
            mod = node.module or ""
        for alias in node.names:
            self._add(resolve(f"{mod}.{alias.name}", self.known) or resolve(mod, self.known), node.lineno)


def tarjan(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    verbose = "--verbose" in sys.argv
    known = modules(packages())
    graph: dict[str, set[str]] = defaultdict(set)
    top_graph: dict[str, set[str]] = defaultdict(set)
    hidden: list[tuple[str, int, str]] = []
    explained: list[tuple[str, int, str]] = []
    for module, path in sorted(known.items()):
        source = path.read_text()
        lines = source.splitlines()
        visitor = Visitor(module, known)
        visitor.visit(ast.parse(source, str(path)))
        for target, inside, line in dict.fromkeys(visitor.edges):  # one per statement and module
            graph[module].add(target)
            if not inside:
                top_graph[module].add(target)
            if inside and target.split(".")[0] != module.split(".")[0]:
                commented = "#" in lines[line - 1] or (line > 1 and lines[line - 2].strip().startswith("#"))
                (explained if commented else hidden).append((module, line, target))
    cycles, top_cycles = tarjan(graph), tarjan(top_graph)
    in_cycles = sum(len(c) for c in cycles)
    print(f"modules: {len(known)}; import edges: {sum(len(v) for v in graph.values())}")
    print(f"import cycles (all imports): {len(cycles)} strongly connected group(s), {in_cycles} modules in them")
    for comp in cycles:
        apps = sorted({m.split('.')[0] for m in comp})
        names = ", ".join(comp if verbose or len(comp) < 15 else comp[:15] + ["…"])
        print(f"  {len(comp)} modules in {len(apps)} apps: {names}")
    print(f"import cycles (module-level imports only): {len(top_cycles)}")
    print(f"imports between apps inside a function body: {len(hidden) + len(explained)} "
          f"({len(explained)} with a comment saying why)")
    for module, line, target in hidden + (explained if verbose else []):
        print(f"  {known[module].relative_to(ROOT)}:{line} → {target}")
    if "--check" in sys.argv and (cycles or hidden):
        print("FAILED: import cycles or unexplained imports between apps inside functions (see above)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Checks the shape of src/: dependencies between the top-level modules point one way (down
the layers below, never up, no cycle), the files of one folder use each other without a
cycle, no file is over 400 lines and no function over 80 lines (tests excepted), and no type
has `impl` blocks of its own in more than 3 files (so that a method is found beside its
type). Reads the `crate::` and `super::` paths of every file.

Usage: scripts/check_structure.py [--graph]   (--graph prints the module graph)
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Each module may use only modules of a later layer. main.rs reaches the crate by its name.
LAYERS = [
    ["main"],
    ["cli"],
    ["app"],
    ["config", "handler"],
    ["pipeline"],
    ["metrics", "provider"],
    ["report", "store"],
    ["caption", "event", "image"],
    ["env", "retry", "secret", "time"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}
MAX_FILE_LINES = 400
MAX_FN_LINES = 80
MAX_IMPL_FILES = 3
# Types still over MAX_IMPL_FILES, each at most at its count now: the count may only fall.
IMPL_FILES_NOW = {"Pipeline": 7}


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs") if len(rel.parts) == 1 else rel.parts[0]


def code_without_tests(text: str) -> str:
    """The file up to its `#[cfg(test)] mod tests` block."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\n(pub(\(crate\))? )?mod tests\b", text, re.M)
    return text[: m.start()] if m else text


def uses(path: Path, text: str) -> set[str]:
    found = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    if path.name == "main.rs" and path.parent == SRC:
        found |= set(re.findall(r"\bs3_alt_text::\{?([a-z_][a-z0-9_, ]*)", text))
        found = {m.strip() for part in found for m in part.split(",") if m.strip()}
    return found


def long_functions(path: Path, text: str):
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn (\w+)", line)
        if not m:
            continue
        # A declaration without a body (a trait's) ends with `;` before any `{`.
        k = i
        while "{" not in lines[k] and not lines[k].rstrip().endswith(";"):
            k += 1
        if "{" not in lines[k]:
            continue
        indent = m.group(1)
        for j in range(i + 1, len(lines)):
            if lines[j] == indent + "}":
                if j - i + 1 > MAX_FN_LINES:
                    yield m.group(5), i + 1, j - i + 1
                break


def top_level_names(group: str) -> list[str]:
    """The first name of each path in a `{a, b::{c, d}, e as f}` group."""
    names, depth, current = [], 0, ""
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.append(current)
            current = ""
            continue
        if depth == 0:
            current += ch
    names.append(current)
    return [n.strip().split("::")[0].split(" ")[0] for n in names if n.strip()]


def sibling_uses(path: Path, text: str) -> set[Path]:
    """The files beside `path` in its folder (not the folder's mod.rs) that it uses."""
    if path.name in ("mod.rs", "lib.rs", "main.rs"):
        return set()
    folder = path.parent
    prefix = "crate::" + "::".join(folder.relative_to(SRC).parts) + "::" if folder != SRC else "crate::"
    found = set()
    for lead in ("super::", prefix):
        at = 0
        while (at := text.find(lead, at)) != -1:
            at += len(lead)
            if text.startswith("{", at):
                depth, end = 0, at
                for end in range(at, len(text)):
                    depth += {"{": 1, "}": -1}.get(text[end], 0)
                    if depth == 0:
                        break
                names = top_level_names(text[at + 1 : end])
            else:
                m = re.match(r"[a-z_][a-z0-9_]*", text[at:])
                names = [m.group(0)] if m else []
            for name in names:
                for candidate in (folder / f"{name}.rs", folder / name / "mod.rs"):
                    if candidate.exists() and candidate != path:
                        found.add(candidate)
    return found


TYPE_DEF = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum|trait)\s+([A-Z]\w*)", re.M)
INHERENT_IMPL = re.compile(r"^impl(?:<[^{]*?>)?\s+([A-Z]\w*)\b[^{]*\{", re.M)


def impl_files(codes: dict[Path, str]) -> list[str]:
    """Types whose inherent `impl` blocks are spread over more files than allowed. A name
    defined in more than one file (each provider's `Settings`) is not counted."""
    defined: dict[str, set[Path]] = {}
    spread: dict[str, set[Path]] = {}
    for path, code in codes.items():
        for name in TYPE_DEF.findall(code):
            defined.setdefault(name, set()).add(path)
        for m in INHERENT_IMPL.finditer(code):
            if " for " not in m.group(0):
                spread.setdefault(m.group(1), set()).add(path)
    problems = []
    for name, paths in sorted(spread.items()):
        if len(defined.get(name, ())) != 1:
            continue
        allowed = IMPL_FILES_NOW.get(name, MAX_IMPL_FILES)
        if len(paths) > allowed:
            where = ", ".join(str(p.relative_to(SRC)) for p in sorted(paths))
            problems.append(f"{name} has impl blocks in {len(paths)} files (at most {allowed}): {where}")
        elif name in IMPL_FILES_NOW and len(paths) < allowed:
            problems.append(f"{name} has impl blocks in {len(paths)} files now: lower IMPL_FILES_NOW to {len(paths)}")
    return problems


def cycles(graph: dict, name=str) -> list[str]:
    """Every cycle of `graph` (a node to the nodes it uses), each named by `name`."""
    problems, state = [], {}

    def visit(node, stack: list):
        state[node] = 1
        for d in sorted(graph.get(node, ())):
            if state.get(d) == 1:
                problems.append("cycle: " + " -> ".join(name(c) for c in stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return problems


def main() -> int:
    graph: dict[str, set[str]] = {}
    files: dict[Path, set[Path]] = {}
    codes: dict[Path, str] = {}
    problems = []
    for path in sorted(SRC.rglob("*.rs")):
        text = path.read_text()
        if path == SRC / "lib.rs":
            continue
        module = module_of(path)
        if module not in RANK:
            problems.append(f"{path.relative_to(SRC)}: module {module} is in no layer")
            continue
        for used in uses(path, text):
            if used != module:
                graph.setdefault(module, set()).add(used)
        files[path] = sibling_uses(path, code_without_tests(text))
        if path.name == "tests.rs":
            continue
        code = code_without_tests(text)
        codes[path] = code
        n = code.count("\n")
        if n > MAX_FILE_LINES:
            problems.append(f"{path.relative_to(SRC)}: {n} lines (at most {MAX_FILE_LINES})")
        for name, line, length in long_functions(path, code):
            problems.append(
                f"{path.relative_to(SRC)}:{line}: fn {name} has {length} lines (at most {MAX_FN_LINES})"
            )
    for module, used in sorted(graph.items()):
        for dep in sorted(used):
            if dep not in RANK:
                problems.append(f"{module} uses {dep}, which is in no layer")
            elif RANK[dep] <= RANK[module]:
                problems.append(f"{module} uses {dep}: a dependency that does not point down")
    # Layering alone rules out cycles between modules; check them directly as well.
    problems += cycles(graph)
    problems += cycles(files, lambda f: str(f.relative_to(SRC)))
    problems += impl_files(codes)
    if "--graph" in sys.argv:
        for module in sorted(graph, key=lambda m: RANK.get(m, 99)):
            print(f"{module} -> {', '.join(sorted(graph[module], key=lambda m: RANK.get(m, 99)))}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"structure: {len(graph)} modules, dependencies point down, no cycle between modules or files, sizes within limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())

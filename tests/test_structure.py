"""The house's shape: no import cycles between npkeras modules, and no imports hidden
inside functions except of optional dependencies."""

import ast
import pathlib

import npkeras

SRC = pathlib.Path(npkeras.__file__).parent
#: third-party packages npkeras uses only when the user asks for them
OPTIONAL = {
    "matplotlib",
    "pandas",
    "h5py",
    "scipy",
    "sklearn",
    "onnx",
    "onnxruntime",
    "tensorboardX",
    "tensorboard",
    "PIL",
    "mpi4py",
    "cupy",
    "cupyx",
    "atheris",
    "importlib",
    "threadpoolctl",
    "torch",
    "npkeras._kernels",
}


def _module_name(path):
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """(imported module, is inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, inside):
        for child in ast.iter_child_nodes(node):
            nested = inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, nested) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - child.level + 1]
                        + ([base] if base else [])
                    )
                for alias in child.names:
                    found.append((f"{base}.{alias.name}", nested))
            else:
                visit(child, nested)

    visit(tree, False)
    return found


def _graph():
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    edges = {m: set() for m in modules}
    for module, path in modules.items():
        for target, inside in _imports(path):
            while target and target not in modules:  # `from pkg import name` -> pkg
                target = target.rpartition(".")[0]
            if target and target != module and target != "npkeras":
                edges[module].add(target)
    return edges


def test_no_import_cycles():
    edges = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def strongconnect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strongconnect(w)
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
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            strongconnect(v)
    assert cycles == [], f"import cycles: {cycles}"


def test_no_function_local_imports_but_optional_dependencies():
    hidden = []
    for path in SRC.rglob("*.py"):
        for target, inside in _imports(path):
            top = target.split(".")[0]
            if inside and not (target in OPTIONAL or top in OPTIONAL):
                hidden.append(f"{_module_name(path)} imports {target} inside a function")
    assert hidden == []


def test_only_the_backend_imports_numpy():
    offenders = [
        _module_name(p)
        for p in SRC.rglob("*.py")
        if p.name != "backend.py" and any(t.split(".")[0] == "numpy" for t, _ in _imports(p))
    ]
    assert offenders == []

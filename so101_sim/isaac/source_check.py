"""Check the Isaac Lab names this project uses against an Isaac Lab source tree, without importing it.

Isaac Lab's modules import Isaac Sim (``omni.*``, ``pxr``) at import time, so they cannot be imported on a
machine without Isaac Sim. Their source can still be read: this module resolves dotted names through the
package ``__init__`` re-exports (``from .x import *`` and ``from .x import Name``) with :mod:`ast`, and answers
three questions for every entry of :data:`so101_sim.isaac.isaaclab_api.NAMES`:

* does the name exist (class, function or assignment, possibly a nested class such as
  ``UrdfConverterCfg.JointDriveCfg.PDGainsCfg``)?
* does each member the project touches exist on the class (method, property, class-level field, or an
  ``self.<member> = ...`` assignment in a method), following base classes inside the tree?
* does each keyword the project passes exist as a parameter of the function (or of ``__init__``)?

Run it against a checkout or an unpacked wheel:
``python -m so101_sim.isaac.source_check /path/to/IsaacLab/source``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class _Module:
    path: Path
    tree: ast.Module
    is_package: bool


@dataclass
class Resolved:
    """A name found in the source: its defining node and the module it lives in."""

    node: ast.AST
    module: str
    qualname: str


@dataclass
class SourceTree:
    """Isaac Lab sources: ``roots`` maps a top-level package name to the directory holding it."""

    roots: dict[str, Path]
    _cache: dict[str, _Module | None] = field(default_factory=dict)

    @classmethod
    def from_source_dir(cls, source: Path) -> SourceTree:
        """``source`` is IsaacLab's ``source/`` folder (one sub-folder per extension, each holding its package)."""
        roots: dict[str, Path] = {}
        for ext in sorted(Path(source).iterdir()):
            pkg = ext / ext.name
            if (pkg / "__init__.py").is_file():
                roots[ext.name] = ext
        if "isaaclab" not in roots:
            raise FileNotFoundError(f"{source} holds no isaaclab/isaaclab/__init__.py (is it IsaacLab's source/?)")
        return cls(roots)

    @classmethod
    def from_site_packages(cls, site: Path) -> SourceTree:
        """An installed Isaac Lab 3.0 wheel: every ``isaaclab*`` package directly under ``site`` (site-packages)."""
        roots = {p.name: Path(site) for p in sorted(Path(site).glob("isaaclab*")) if (p / "__init__.py").is_file()}
        if "isaaclab" not in roots:
            raise FileNotFoundError(f"{site} holds no isaaclab/__init__.py (is isaaclab installed there?)")
        return cls(roots)

    # -- modules ---------------------------------------------------------------------------------------------
    def module(self, dotted: str) -> _Module | None:
        if dotted in self._cache:
            return self._cache[dotted]
        parts = dotted.split(".")
        root = self.roots.get(parts[0])
        found: _Module | None = None
        if root is not None:
            base = root.joinpath(*parts)
            for path, is_pkg in ((base / "__init__.py", True), (base.with_suffix(".py"), False)):
                if path.is_file():
                    found = _Module(path, ast.parse(path.read_text(encoding="utf-8"), str(path)), is_pkg)
                    stub = base / "__init__.pyi"
                    if is_pkg and stub.is_file():  # Isaac Lab 3.0: lazy_loader packages re-export in the stub
                        found.tree.body.extend(ast.parse(stub.read_text(encoding="utf-8"), str(stub)).body)
                    break
        self._cache[dotted] = found
        return found

    def _absolute(self, module: str, node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        mod = self.module(module)
        package = module if mod is not None and mod.is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{node.module}" if node.module else package

    # -- names -----------------------------------------------------------------------------------------------
    def resolve(self, module: str, qualname: str, _seen: set | None = None) -> Resolved | None:
        """Find ``qualname`` (``A`` or ``A.B.C``) as defined or re-exported by ``module``."""
        seen = _seen if _seen is not None else set()
        if (module, qualname) in seen:
            return None
        seen.add((module, qualname))
        head, _, rest = qualname.partition(".")
        top = self._resolve_top(module, head, seen)
        if top is None:
            return None
        if not rest:
            return top
        if isinstance(top.node, ast.Module):  # a sub-module: look the rest up inside it
            return self.resolve(top.module, rest, seen)
        node = top.node
        for part in rest.split("."):
            if not isinstance(node, ast.ClassDef):
                return None
            inner = next((n for n in node.body if isinstance(n, ast.ClassDef) and n.name == part), None)
            if inner is None:
                base_hit = self._nested_in_bases(top.module, node, part)
                if base_hit is None:
                    return None
                node = base_hit.node
            else:
                node = inner
        return Resolved(node, top.module, qualname)

    def _nested_in_bases(self, module: str, cls: ast.ClassDef, name: str) -> Resolved | None:
        for base in self.bases(module, cls):
            hit = next((n for n in base.node.body if isinstance(n, ast.ClassDef) and n.name == name), None)
            if hit is not None:
                return Resolved(hit, base.module, name)
            deeper = self._nested_in_bases(base.module, base.node, name)
            if deeper is not None:
                return deeper
        return None

    def _resolve_top(self, module: str, name: str, seen: set) -> Resolved | None:
        mod = self.module(module)
        if mod is None:
            return None
        for node in mod.tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                return Resolved(node, module, name)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return Resolved(node, module, name)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                return Resolved(node, module, name)
        # re-exports (explicit first, then star imports), then sub-modules
        for node in mod.tree.body:
            if isinstance(node, ast.ImportFrom):
                source = self._absolute(module, node)
                for alias in node.names:
                    if alias.name != "*" and (alias.asname or alias.name) == name:
                        hit = self.resolve(source, alias.name, seen)
                        if hit is None and self.module(f"{source}.{alias.name}") is not None:
                            return Resolved(self.module(f"{source}.{alias.name}").tree, f"{source}.{alias.name}", "")
                        return hit
        for node in mod.tree.body:
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                source = self._absolute(module, node)
                exported = self._star_names(source)
                if exported is not None and name not in exported:
                    continue
                hit = self.resolve(source, name, seen)
                if hit is not None:
                    return hit
        if mod.is_package and self.module(f"{module}.{name}") is not None:
            return Resolved(self.module(f"{module}.{name}").tree, f"{module}.{name}", "")
        return None

    def _star_names(self, module: str) -> set[str] | None:
        """``__all__`` of a module when it declares one (``from m import *`` then exports only those)."""
        mod = self.module(module)
        if mod is None:
            return set()
        for node in mod.tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                try:
                    return set(ast.literal_eval(node.value))
                except ValueError:
                    return None
        return None

    # -- classes ---------------------------------------------------------------------------------------------
    def bases(self, module: str, cls: ast.ClassDef) -> list[Resolved]:
        """Base classes of ``cls`` that live inside the tree (``Generic``, ``object``... are skipped)."""
        imports = self._import_map(module)
        out = []
        for base in cls.bases:
            dotted = ast.unparse(base)
            if isinstance(base, ast.Subscript):
                dotted = ast.unparse(base.value)
            head, _, rest = dotted.partition(".")
            if head in imports:
                src_module, src_name = imports[head]
                target = f"{src_name}.{rest}" if rest and src_name else (rest or src_name)
                hit = self.resolve(src_module, target) if target else None
            else:
                hit = self.resolve(module, dotted)
            if hit is not None and isinstance(hit.node, ast.ClassDef):
                out.append(hit)
        return out

    def _import_map(self, module: str) -> dict[str, tuple[str, str]]:
        """Local name -> (source module, name in it; '' for a module) for a module's imports."""
        mod = self.module(module)
        out: dict[str, tuple[str, str]] = {}
        if mod is None:
            return out
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom):
                source = self._absolute(module, node)
                for alias in node.names:
                    if alias.name != "*":
                        out[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = (alias.name, "")
        return out

    def class_members(self, module: str, cls: ast.ClassDef) -> set[str]:
        """Every member a class defines or inherits from bases in the tree."""
        names: set[str] = set()
        for node in cls.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for node in ast.walk(cls):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.add(t.attr)
        for base in self.bases(module, cls):
            names |= self.class_members(base.module, base.node)
        return names

    def find_method(self, module: str, cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        for base in self.bases(module, cls):
            hit = self.find_method(base.module, base.node, name)
            if hit is not None:
                return hit
        return None


def parameters(fn: ast.FunctionDef) -> tuple[set[str], bool]:
    """Parameter names of a function and whether it takes ``**kwargs``."""
    args = fn.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return names, args.kwarg is not None


def check_names(tree: SourceTree, names: dict) -> list[str]:
    """Problems found for ``names`` (alias -> :class:`~so101_sim.isaac.isaaclab_api.ApiName`); empty if none."""
    problems: list[str] = []
    for alias, entry in names.items():
        where = f"{alias} ({entry.module}.{entry.qualname})"
        hit = tree.resolve(entry.module, entry.qualname)
        if hit is None:
            problems.append(f"{where}: not found")
            continue
        if entry.members:
            if not isinstance(hit.node, ast.ClassDef):
                problems.append(f"{where}: expected a class to check members {entry.members}")
                continue
            have = tree.class_members(hit.module, hit.node)
            missing = [m for m in entry.members if m not in have]
            if missing:
                problems.append(f"{where}: no member(s) {missing}")
        for method, params in entry.params.items():
            if method == "":
                fn = hit.node if isinstance(hit.node, ast.FunctionDef) else None
                if isinstance(hit.node, ast.ClassDef):
                    fn = tree.find_method(hit.module, hit.node, "__call__" if entry.kind == "term" else "__init__")
            else:
                fn = tree.find_method(hit.module, hit.node, method) if isinstance(hit.node, ast.ClassDef) else None
            if fn is None and entry.kind == "cfg" and method == "" and isinstance(hit.node, ast.ClassDef):
                # a configclass (dataclass) has a generated __init__ whose parameters are its fields
                fields = tree.class_members(hit.module, hit.node)
                missing = [p for p in params if p not in fields]
                if missing:
                    problems.append(f"{where}: no field(s) {missing} to pass to the generated __init__")
                continue
            if fn is None:
                problems.append(f"{where}: no callable {method or '__init__'!r} to check parameters {params}")
                continue
            have, var_kw = parameters(fn)
            missing = [p for p in params if p not in have]
            if missing and not var_kw:
                problems.append(f"{where}: {method or fn.name}() has no parameter(s) {missing}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m so101_sim.isaac.source_check DIR``: IsaacLab's ``source/`` folder (checked against the 2.3
    table) or a site-packages folder holding an installed 3.0 wheel (checked against the 3.0 table)."""
    from so101_sim.isaac.isaaclab_api import NAMES_23, NAMES_30

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m so101_sim.isaac.source_check /path/to/IsaacLab/source | /path/to/site-packages",
              file=sys.stderr)
        return 2
    root = Path(args[0])
    if (root / "isaaclab" / "__init__.py").is_file():
        tree, table = SourceTree.from_site_packages(root), NAMES_30
    else:
        tree, table = SourceTree.from_source_dir(root), NAMES_23
    problems = check_names(tree, table)
    for p in problems:
        print(p)
    print(f"{len(table)} names checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

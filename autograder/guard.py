"""The test guard: runs INSIDE the student's kernel, to keep the test machinery the tests call.

`autograder.execute` sends the source of this module to the kernel before the first cell a student
can edit, and keeps the `Guard` that `install` returns under a random attribute of `sys`. The guard
snapshots the course's modules (`vaelab.*`, `autograder.*`), the `WATCHED` modules, the import
machinery, `sys.path`, IPython's exception handlers and event hooks. Before each test cell
`restore()` puts everything back (and says what it had to restore); after it, `differences()`
says which functions were replaced while the test ran.

It is plain Python with no import outside the standard library (it runs in the course's kernel,
whatever the student did to `sys.path`), and it is the first line of defence only: code that
runs in the same process can always reach it. `autograder.preflight` also lists, for a human, the
cells whose source reaches for the grader's internals.
"""

from __future__ import annotations

import importlib
import sys

#: Module prefixes whose state the guard snapshots and restores.
COURSE = ("vaelab", "autograder")
#: Third-party and standard modules whose attributes the guard also restores (when imported).
WATCHED = ("builtins", "math", "torch", "torch.nn.functional", "torch.testing", "numpy", "numpy.testing")
#: Attributes that change legitimately between cells (ipykernel rebinds input() each time).
VOLATILE = ("builtins.input", "builtins.raw_input", "builtins.getpass")


def _same_method(a: object, b: object) -> bool:
    """Whether `a` and `b` are the same function bound to the same object (a bound method is a
    new object at each attribute access)."""
    func_a, func_b = getattr(a, "__func__", None), getattr(b, "__func__", None)
    return func_a is not None and func_a is func_b and getattr(a, "__self__", 0) is getattr(b, "__self__", 1)


class Guard:
    """A snapshot of the test machinery of the running process (see the module docstring).

    `lib` is the folder of the course library the tests must import (first on `sys.path`);
    `shell` the IPython shell (its exception handlers and event callbacks are kept); `course`
    and `watched` the module names, as `COURSE` and `WATCHED`."""

    def __init__(self, lib: str, shell, course: tuple[str, ...] = COURSE, watched: tuple[str, ...] = WATCHED):
        self.lib, self.shell, self.course, self.watched = lib, shell, course, watched
        self.modules = {n: m for n, m in sys.modules.items() if m is not None and (self._ours(n) or n in watched)}
        # (label, module or class, its attributes): each module, then the classes it defines
        self.namespaces: list[tuple[str, object, dict]] = []
        for name, module in self.modules.items():
            self.namespaces.append((name, module, dict(vars(module))))
            for attribute, value in list(vars(module).items()):
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    self.namespaces.append((f"{name}.{attribute}", value, dict(vars(value))))
        self.meta_path, self.path_hooks = list(sys.meta_path), list(sys.path_hooks)
        self.path = [lib] + [p for p in sys.path if p != lib]
        self.excepthook = sys.excepthook
        self.custom = (shell.custom_exceptions, shell.CustomTB)
        self.events = {k: list(v) for k, v in shell.events.callbacks.items()}
        self.import_module, self.reload = importlib.import_module, importlib.reload

    def _ours(self, name: str) -> bool:
        return name.split(".")[0] in self.course

    def _foreign(self, module) -> bool:
        """Whether `module` comes from outside the course library (a planted package)."""
        return not (getattr(module, "__file__", None) or "").startswith(self.lib)

    def _untrusted(self, value) -> bool:
        """Whether `value` is a function whose code was written outside the library and the
        Python installation (by the student)."""
        code = getattr(value, "__code__", None) or getattr(getattr(value, "__func__", None), "__code__", None)
        if code is None:
            return False
        trusted = (self.lib, sys.prefix, sys.base_prefix, sys.exec_prefix, "<frozen")
        return not code.co_filename.startswith(trusted)

    def _changed(self, label: str, saved: dict, current: dict) -> list[str]:
        found = []
        for attribute, old in saved.items():
            new = current.get(attribute, old)
            if new is old or f"{label}.{attribute}" in VOLATILE or _same_method(new, old):
                continue
            if callable(old) or self._untrusted(new):
                found.append(f"{label}.{attribute}")
        return found

    def differences(self) -> list[str]:
        """What differs from the snapshot: modules replaced or planted, functions replaced."""
        found = [f"sys.modules[{n!r}]" for n, m in self.modules.items() if sys.modules.get(n) is not m]
        for name, module in list(sys.modules.items()):
            if module is not None and self._ours(name) and name not in self.modules and self._foreign(module):
                found.append(f"module {name} from {getattr(module, '__file__', None)}")
        for label, owner, saved in self.namespaces:
            found += self._changed(label, saved, vars(owner))
        return found

    def _restore_modules(self) -> None:
        for name, module in self.modules.items():
            sys.modules[name] = module
        for name in [n for n, m in sys.modules.items() if self._ours(n) and n not in self.modules]:
            if self._foreign(sys.modules[name]):
                del sys.modules[name]
        for _, owner, saved in self.namespaces:
            if not isinstance(owner, type):
                vars(owner).update(saved)
                continue
            for attribute, value in saved.items():
                if vars(owner).get(attribute, value) is not value:
                    try:
                        setattr(owner, attribute, value)
                    except (AttributeError, TypeError):  # a read-only slot
                        pass

    def restore(self) -> list[str]:
        """Puts the snapshot back; returns what had to be restored (`differences`)."""
        found = self.differences()
        self._restore_modules()
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        sys.path[:] = self.path
        sys.path_importer_cache.clear()
        sys.excepthook = self.excepthook
        sys.settrace(None)
        sys.setprofile(None)
        importlib.import_module, importlib.reload = self.import_module, self.reload
        self.shell.custom_exceptions, self.shell.CustomTB = self.custom
        for key, callbacks in self.events.items():
            self.shell.events.callbacks[key][:] = callbacks
        return found


def install(modules: list[str], lib: str, shell) -> Guard:
    """Imports the course `modules` that the locked cells name (so that they are in the
    snapshot), then takes the snapshot."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the locked cell will show the error itself
            pass
    return Guard(lib, shell)

"""`autograder.guard` in this process, on a stand-in course package (`fakecourse`), with a stand-in
IPython shell: what it finds replaced, what it restores, what it leaves alone. The guard in a real
kernel, against real attacks, is tested in `test_autograder_sandbox.py`."""

from __future__ import annotations

import ast
import importlib
import sys
import types
from types import SimpleNamespace

import pytest

from autograder import guard
from autograder.execute import guard_install_code


def check(x):
    return x


class Checker:
    def run(self):
        return "real"


@pytest.fixture
def course(tmp_path, monkeypatch):
    """`fakecourse` and `fakecourse.checks` (with `check`, `Checker` and a `level` constant),
    loaded from `tmp_path`, the guard's library; the process's import state is put back after."""
    for name in ("path", "meta_path", "path_hooks"):
        monkeypatch.setattr(sys, name, list(getattr(sys, name)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(importlib, "import_module", importlib.import_module)
    monkeypatch.setattr(importlib, "reload", importlib.reload)
    package = types.ModuleType("fakecourse")
    package.__file__ = str(tmp_path / "fakecourse" / "__init__.py")
    checks = types.ModuleType("fakecourse.checks")
    checks.__file__ = str(tmp_path / "fakecourse" / "checks.py")
    checker = type("Checker", (), {"run": Checker.run, "__module__": "fakecourse.checks"})
    vars(checks).update(check=check, Checker=checker, level=3)
    for module in (package, checks):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    shell = SimpleNamespace(custom_exceptions=(), CustomTB=None, events=SimpleNamespace(callbacks={"pre_run_cell": []}))
    yield SimpleNamespace(
        checks=checks,
        lib=str(tmp_path),
        shell=shell,
        guard=guard.Guard(str(tmp_path), shell, course=("fakecourse",), watched=()),
    )
    for name in ("fakecourse.hidden", "fakecourse.later"):  # planted by a test
        sys.modules.pop(name, None)


def test_nothing_changed_nothing_found(course):
    assert course.guard.differences() == []
    assert course.guard.restore() == []


def test_a_replaced_function_is_found_and_restored(course):
    course.checks.check = lambda x: None
    assert course.guard.differences() == ["fakecourse.checks.check"]
    assert course.guard.restore() == ["fakecourse.checks.check"]
    assert course.checks.check is check and course.guard.differences() == []


def test_a_replaced_method_is_found_and_restored(course):
    course.checks.Checker.run = lambda self: "fake"
    assert course.guard.differences() == ["fakecourse.checks.Checker.run"]
    course.guard.restore()
    assert course.checks.Checker().run() == "real"


def test_data_the_course_changes_is_not_tampering_but_student_code_is(course):
    course.checks.level = 4  # a trusted value: a setting the course itself may change
    assert course.guard.differences() == []
    course.checks.level = lambda: 0  # code written outside the library, where data was
    assert course.guard.differences() == ["fakecourse.checks.level"]
    course.guard.restore()
    assert course.checks.level == 3


def test_a_replaced_or_planted_module_is_found_and_removed(course, tmp_path):
    impostor = types.ModuleType("fakecourse.checks")
    sys.modules["fakecourse.checks"] = impostor
    planted = types.ModuleType("fakecourse.hidden")
    planted.__file__ = "/home/student/work/fakecourse/hidden.py"
    sys.modules["fakecourse.hidden"] = planted
    legit = types.ModuleType("fakecourse.later")  # imported later, from the library: fine
    legit.__file__ = str(tmp_path / "fakecourse" / "later.py")
    sys.modules["fakecourse.later"] = legit
    assert course.guard.restore() == [
        "sys.modules['fakecourse.checks']",
        "module fakecourse.hidden from /home/student/work/fakecourse/hidden.py",
    ]
    assert sys.modules["fakecourse.checks"] is course.checks
    assert "fakecourse.hidden" not in sys.modules and sys.modules["fakecourse.later"] is legit


def test_restore_puts_back_the_import_machinery_and_the_shell(course):
    sys.path.insert(0, "/home/student/work")
    sys.meta_path.insert(0, object())
    sys.excepthook = lambda *args: None
    course.shell.custom_exceptions = (AssertionError,)
    course.shell.events.callbacks["pre_run_cell"].append(print)
    course.guard.restore()
    assert sys.path[0] == course.lib and "/home/student/work" not in sys.path
    assert sys.meta_path == course.guard.meta_path
    assert sys.excepthook is course.guard.excepthook
    assert course.shell.custom_exceptions == ()
    assert course.shell.events.callbacks["pre_run_cell"] == []


def test_the_guard_needs_nothing_but_the_standard_library():
    tree = ast.parse(open(guard.__file__, encoding="utf-8").read())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


def test_the_code_sent_to_the_kernel_installs_it_under_a_secret_name_and_leaves_nothing(tmp_path):
    shell = SimpleNamespace(custom_exceptions=(), CustomTB=None, events=SimpleNamespace(callbacks={}))
    namespace = {"get_ipython": lambda: shell}
    name = "_autograder_guard_test"
    modules_before = set(sys.modules)
    exec(guard_install_code(name, [], str(tmp_path)), namespace)
    try:
        installed = getattr(sys, name)
        assert type(installed).__name__ == "Guard" and installed.lib == str(tmp_path)
        assert installed.differences() == []
        assert set(namespace) - {"__builtins__"} == {"get_ipython"}  # nothing left behind
        assert set(sys.modules) == modules_before  # not imported as a module either
    finally:
        delattr(sys, name)

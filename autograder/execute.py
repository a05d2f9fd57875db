"""`GuardedExecute`: nbgrader's `Execute` step, hardened for untrusted notebooks.

It replaces `Execute` in `nbgrader autograde` (see `course.Course`) and in the student
self-check (`autograder.check`), and adds:

- **the course kernel in a sandbox**: `kernel_manager_class` is
  `sandbox.SandboxedKernelManager` (the course's Python, whatever kernel the notebook names;
  memory, CPU-time and file-size limits; bubblewrap when it works);
- **a per-notebook time limit** (`notebook_timeout`) on top of nbgrader's per-cell `timeout`:
  each cell gets at most the time left, and once the notebook is out of time the remaining
  cells are not run; each of them gets an error output (`NotebookTimeout`), so that its tests
  score 0 (nbgrader gives full marks to a test cell without an error output);
- **a dead kernel is not the end of the batch**: when the kernel dies (`os._exit`, a signal,
  the CPU limit), the cell gets a `DeadKernelError` output that says how it died, the remaining
  cells are marked as not run, and the notebook is still graded (nbgrader alone fails it);
  a kernel that ignores interrupts after a cell timeout is shut down the same way;
- **capped outputs** (`max_output_bytes` per cell): what a cell prints beyond the cap is
  dropped as it arrives, with a note, so a cell printing 100 MB costs neither memory nor a huge
  feedback page;
- **guarded tests** (`guard`, on when grading): before the first cell that a student can edit,
  a snapshot of the modules the locked cells import (`vaelab.*`, `autograder.*`), of `torch`,
  `math`, `numpy`, `builtins`, of the import machinery, of IPython's exception handlers and
  event hooks. Before each test cell everything is restored from it (so replacing
  `vaelab.checks.check_against_reference` or `autograder.hidden.chNN.test_fn` beforehand, or
  planting a fake `autograder` package in the working folder, changes nothing: the real tests
  run), and after it the same snapshot is compared again: a test during which a function of
  those modules was replaced scores 0 (`TamperingError` output). What was restored or found is
  in `report`.

Everything that happened is written as JSON to `report_path` for `grade` (the notebook's
metadata does not survive nbgrader's later steps).

The guard runs inside the student's Python process, so it cannot be absolute: it defeats the
direct patches above and makes the indirect ones visible; `grade` also lists the cells whose
source reaches for the grader's internals (`suspicious_code`) for a human to review.
"""

from __future__ import annotations

import ast
import json
import secrets
import time
from pathlib import Path

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from .sandbox import SandboxedKernelManager, exit_status

#: Module prefixes whose state the guard snapshots and restores.
COURSE_PACKAGES = ("vaelab", "autograder")
#: Third-party and standard modules whose attributes the guard also restores (when imported).
WATCHED_MODULES = ("builtins", "math", "torch", "torch.nn.functional", "torch.testing",
                   "numpy", "numpy.testing")

#: Installed in the kernel before the first cell a student can edit. `{name}` is a random
#: attribute of `sys` that holds the guard; `{modules}` the course modules to import first.
GUARD_INSTALL = r'''
def _install(modules, lib):
    import builtins, importlib, sys
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    course = ("vaelab", "autograder")
    watched = {watched}

    def snapshot():
        mods = {{n: m for n, m in sys.modules.items()
                 if m is not None and (n.split(".")[0] in course or n in watched)}}
        attrs = {{}}
        for n, m in mods.items():
            attrs[n] = dict(vars(m))
            for a, v in list(vars(m).items()):
                if isinstance(v, type) and getattr(v, "__module__", None) == n:
                    attrs[n + ":" + a] = (v, dict(vars(v)))
        return mods, attrs

    mods, attrs = snapshot()
    shell = get_ipython()
    saved = dict(
        meta_path=list(sys.meta_path), path_hooks=list(sys.path_hooks),
        path=[lib] + [p for p in sys.path if p != lib],
        excepthook=sys.excepthook, custom=(shell.custom_exceptions, shell.CustomTB),
        events={{k: list(v) for k, v in shell.events.callbacks.items()}},
        import_module=importlib.import_module, reload=importlib.reload)

    # ipykernel rebinds input() for every execution
    volatile = ("builtins.input", "builtins.raw_input", "builtins.getpass")

    def same_method(a, b):
        return (getattr(a, "__func__", None) is not None and getattr(a, "__func__", 0) is getattr(b, "__func__", 1)
                and getattr(a, "__self__", 0) is getattr(b, "__self__", 1))

    def untrusted(value):
        code = getattr(value, "__code__", None) or getattr(getattr(value, "__func__", None), "__code__", None)
        if code is None:
            return False
        trusted = (lib, sys.prefix, sys.base_prefix, sys.exec_prefix, "<frozen")
        return not code.co_filename.startswith(trusted)

    def differences():
        found = []
        for n, m in mods.items():
            if sys.modules.get(n) is not m:
                found.append(f"sys.modules[{{n!r}}]")
        for n, m in list(sys.modules.items()):
            if m is not None and n.split(".")[0] in course and n not in mods:
                if not (getattr(m, "__file__", None) or "").startswith(lib):
                    found.append(f"module {{n}} from {{getattr(m, '__file__', None)}}")
        for key, saved_attrs in attrs.items():
            if ":" in key:
                n, cls_name = key.split(":", 1)
                cls, saved_attrs = saved_attrs
                current = vars(cls)
                label = f"{{n}}.{{cls_name}}"
            else:
                current = vars(mods[key])
                label = key
            for a, old in saved_attrs.items():
                new = current.get(a, old)
                if new is old or f"{{label}}.{{a}}" in volatile or same_method(new, old):
                    continue
                if callable(old) or untrusted(new):
                    found.append(f"{{label}}.{{a}}")
        return found

    def restore():
        found = differences()
        for n, m in mods.items():
            sys.modules[n] = m
        for n in [n for n, m in sys.modules.items() if n.split(".")[0] in course and n not in mods]:
            if not (getattr(sys.modules[n], "__file__", None) or "").startswith(lib):
                del sys.modules[n]
        for key, saved_attrs in attrs.items():
            if ":" in key:
                cls, saved_attrs = saved_attrs
                for a, v in saved_attrs.items():
                    if vars(cls).get(a, v) is not v:
                        try:
                            setattr(cls, a, v)
                        except (AttributeError, TypeError):
                            pass
            else:
                vars(mods[key]).update(saved_attrs)
        sys.meta_path[:] = saved["meta_path"]
        sys.path_hooks[:] = saved["path_hooks"]
        sys.path[:] = saved["path"]
        sys.path_importer_cache.clear()
        sys.excepthook = saved["excepthook"]
        sys.settrace(None)
        sys.setprofile(None)
        importlib.import_module = saved["import_module"]
        importlib.reload = saved["reload"]
        shell.custom_exceptions, shell.CustomTB = saved["custom"]
        for k, v in saved["events"].items():
            shell.events.callbacks[k][:] = v
        return found

    return restore, differences

import sys as _sys
setattr(_sys, {name!r}, _install({modules!r}, {lib!r}))
del _install, _sys
'''

#: Run before a test cell; the user expression returns what had to be restored (JSON).
GUARD_RESTORE = "getattr(__import__('sys'), {name!r})[0]()"
#: Run after a test cell; the user expression returns what changed during it (JSON).
GUARD_CHECK = "getattr(__import__('sys'), {name!r})[1]()"

TRUNCATED = "\n... output truncated by the autograder: more than {limit} bytes in this cell ...\n"


def imported_course_modules(cells: list[NotebookNode]) -> list[str]:
    """The `vaelab` / `autograder` modules that the import statements of `cells` name."""
    found = []
    for cell in cells:
        try:
            tree = ast.parse(_python_only(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [n for n in names if n.split(".")[0] in COURSE_PACKAGES and n not in found]
    return found


def _python_only(source: str) -> str:
    """The source without IPython's magics and shell escapes (`%matplotlib`, `!ls`)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _grade_id(cell: NotebookNode, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _size(output: NotebookNode) -> int:
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    data = output.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


def describe_death(code: int | None, signal_number: int | None) -> str:
    """Why a kernel process ended, in words."""
    import signal as signals
    if signal_number is not None:
        try:
            name = signals.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
        hint = {"SIGKILL": " (killed: out of memory, or the code killed its own process)",
                "SIGXCPU": " (the CPU-time limit)",
                "SIGSEGV": " (a crash in compiled code, often after running out of memory)",
                "SIGABRT": " (aborted, often after running out of memory)"}.get(name, "")
        return f"killed by {name}{hint}"
    if code is None:
        return "it stopped responding"
    return f"exited with code {code} (did the code call os._exit, sys.exit or exit()?)"


class GuardedExecute(Execute):
    """See the module docstring."""

    notebook_timeout = Integer(900, help="time limit for the whole notebook, in seconds "
                                          "(0: none)").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="the most output kept per cell, in bytes "
                                                "(0: no limit)").tag(config=True)
    guard = Bool(False, help="snapshot, restore and check the test machinery around "
                             "test cells").tag(config=True)
    report_path = Unicode("", help="where to write the JSON report").tag(config=True)
    lib_dir = Unicode("", help="the course library the kernel imports").tag(config=True)

    def __init__(self, *args, **kwargs):
        # nbgrader's Execute defaults to AsyncKernelManager; the self-check passes its own.
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        # As ExecutePreprocessor.preprocess, cell by cell with the guards (see the docstring).
        from nbclient import NotebookClient
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.report = {"timed_out": [], "not_run": [], "truncated": [], "tampering": [],
                       "restored": [], "kernel_death": None, "notebook_timeout": False,
                       "unresponsive": None, "guard": "off" if not self.guard else "not needed"}
        start = time.monotonic()
        deadline = None  # set once the kernel is ready: its start-up does not count

        def cell_timeout(cell):
            limit = self.timeout if self.timeout and self.timeout > 0 else None
            if deadline is not None:
                left = max(1, int(deadline - time.monotonic() + 0.999))
                limit = left if limit is None else min(limit, left)
            return limit

        self.timeout_func = cell_timeout
        stopped = ""
        guard_name = f"_autograder_guard_{secrets.token_hex(8)}"
        guard_ready = False
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if self.notebook_timeout:
                    deadline = time.monotonic() + self.notebook_timeout
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    grade_id = _grade_id(cell, index)
                    if not stopped and deadline is not None and time.monotonic() >= deadline:
                        self.report["notebook_timeout"] = True
                        stopped = (f"NotebookTimeout: not run, the notebook ran out of its time "
                                   f"limit ({self.notebook_timeout} s)")
                    if stopped:
                        ename, _, evalue = stopped.partition(": ")
                        cell.outputs = [_error(ename, evalue)]
                        self.report["not_run"].append(grade_id)
                        continue
                    test = nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell)
                    if self.guard and not guard_ready and not nbgrader_utils.is_locked(cell):
                        guard_ready = self._install_guard(guard_name)
                        self.report["guard"] = "installed" if guard_ready else "failed"
                    if self.guard and guard_ready and test:
                        restored = self._silent(GUARD_RESTORE.format(name=guard_name))
                        self.report["restored"] += [r for r in restored or []
                                                    if r not in self.report["restored"]]
                    self._cell_budget = self.max_output_bytes
                    self._cell_truncated = False
                    try:
                        self.preprocess_cell(cell, resources, index)
                    except DeadKernelError:
                        code, signal_number = exit_status(self.km)
                        how = describe_death(code, signal_number)
                        self.report["kernel_death"] = {"cell": grade_id, "code": code,
                                                       "signal": signal_number, "how": how}
                        cell.outputs.append(_error(
                            "DeadKernelError", f"the kernel died while running this cell: {how}"))
                        stopped = "DeadKernelError: not run, the kernel had died"
                        continue
                    except CellTimeoutError:
                        # The kernel ignored the interrupt after a timeout: stop it.
                        cell.outputs.append(_error(
                            "CellTimeoutError", "the cell did not stop when interrupted after "
                            "its time limit; the kernel was shut down"))
                        self.report["timed_out"].append(grade_id)
                        self.report["unresponsive"] = grade_id
                        self._kill()
                        stopped = "CellTimeoutError: not run, the kernel had to be shut down"
                        continue
                    finally:
                        if self._cell_truncated:
                            self.report["truncated"].append(grade_id)
                    if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                        self.report["timed_out"].append(grade_id)
                        if deadline is not None and time.monotonic() >= deadline:
                            self.report["notebook_timeout"] = True
                    if self.guard and guard_ready and test:
                        changed = self._silent(GUARD_CHECK.format(name=guard_name))
                        if changed:
                            self.report["tampering"].append({"cell": grade_id,
                                                             "changed": changed})
                            cell.outputs.append(_error(
                                "TamperingError", "the grader's test machinery was modified "
                                f"while this test ran ({', '.join(changed[:5])}): no points"))
        finally:
            self.report["seconds"] = round(time.monotonic() - start, 1)
            if self.report_path:
                Path(self.report_path).write_text(json.dumps(self.report, indent=1))
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _kill(self) -> None:
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # already gone
            pass

    def _silent(self, code: str):
        """Runs `code` silently in the kernel; returns its value decoded from JSON, or None
        when it failed or did not answer in time."""
        expression = f"__import__('json').dumps({code})"
        msg_id = self.kc.execute("pass", silent=True, store_history=False,
                                 user_expressions={"value": expression})
        try:
            reply = self.wait_for_reply(msg_id)
        except (CellTimeoutError, DeadKernelError):
            return None
        result = ((reply or {}).get("content", {}).get("user_expressions") or {}).get("value", {})
        if result.get("status") != "ok":
            self.log.warning("guard: %s", result.get("evalue", result))
            return None
        try:  # the repr of a JSON string
            return json.loads(ast.literal_eval(result["data"]["text/plain"]))
        except (ValueError, SyntaxError):
            return None

    def _install_guard(self, name: str) -> bool:
        locked = [c for c in self.nb.cells if c.cell_type == "code" and nbgrader_utils.is_locked(c)]
        code = GUARD_INSTALL.format(name=name, modules=imported_course_modules(locked),
                                    lib=self.lib_dir, watched=tuple(WATCHED_MODULES))
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        reply = self.wait_for_reply(msg_id)
        ok = bool(reply) and reply["content"].get("status") == "ok"
        if not ok:
            self.log.warning("guard not installed: %s", (reply or {}).get("content"))
        return ok

    def output(self, outs, msg, display_id, cell_index):
        """Keeps at most `max_output_bytes` of output per cell (see the docstring)."""
        limit = self.max_output_bytes
        if not limit or msg["msg_type"] not in ("stream", "display_data", "execute_result"):
            return super().output(outs, msg, display_id, cell_index)
        budget = getattr(self, "_cell_budget", limit)
        content = msg["content"]
        if msg["msg_type"] == "stream":
            size = len(content.get("text", ""))
        else:
            size = sum(len(v) if isinstance(v, str) else len(json.dumps(v))
                       for v in content.get("data", {}).values())
        if size <= budget:
            self._cell_budget = budget - size
            return super().output(outs, msg, display_id, cell_index)
        first = not getattr(self, "_cell_truncated", False)
        self._cell_truncated = True
        self._cell_budget = 0
        if msg["msg_type"] == "stream" and budget > 0:
            msg = {**msg, "content": {**content, "text": content["text"][:budget]}}
            super().output(outs, msg, display_id, cell_index)
        if first:
            note = {**msg, "msg_type": "stream",
                    "content": {"name": "stdout", "text": TRUNCATED.format(limit=limit)}}
            return super().output(outs, note, display_id, cell_index)
        return None

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
- **capped outputs** (`max_output_bytes`): every output message is capped as it arrives, before
  nbclient turns it into an output (`cap_message`), with a note in the cell, so a cell printing
  100 MB costs neither memory nor a huge feedback page, results file or gradebook. While a cell
  runs, its stream, display, result and display-update messages share one budget of
  `max_output_bytes`, and its error messages a second one (the named mistake of a test must
  survive a cell that printed a lot). A message that carries a display id is charged once per
  output it writes: nbclient copies it into every earlier output with that id, in any cell, so
  a flood of updates (or one update of many displays) cannot write more than the budget. A rich
  output over its room keeps only its plain text, cut to fit; a message that is not a valid
  output (wrong types, a display id that is not a string) is dropped, widget (comm) messages
  are ignored, and lone surrogates (which no UTF-8 file can hold) become U+FFFD;
- **labelled re-runs** (when grading): a cell that is not a test and showed something gets a last
  output saying that what it shows comes from the grader's fast re-run, not the student's run;
- **guarded tests** (`guard`, on when grading): before the first cell that a student can edit,
  the kernel runs `autograder.guard` and keeps its snapshot of the test machinery. Before each
  test cell everything is restored from it (so replacing `vaelab.reference.checks.check_against_reference`
  or `autograder.hidden.chNN.test_fn` beforehand, or planting a fake `autograder` package in the
  working folder, changes nothing: the real tests run), and after it the snapshot is compared
  again: a test during which a function of those modules was replaced scores 0
  (`TamperingError` output).

Everything that happened is in `report` (`autograder.report.ExecutionReport`), also written to
`report_path` for `grade` (the notebook's metadata does not survive nbgrader's later steps).
"""

from __future__ import annotations

import ast
import json
import re
import secrets
import time
from pathlib import Path

from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from . import guard, notebooks, report
from .report import (
    CELL_TIMEOUT,
    DEAD_KERNEL,
    NOTEBOOK_TIMEOUT,
    TAMPERING,
    ExecutionReport,
    KernelDeath,
    Tampering,
    describe_death,
    error_output,
)
from .sandbox import SandboxedKernelManager, exit_status

__all__ = ["GuardedExecute", "cap_message", "describe_death", "imported_course_modules", "scrub", "valid_output"]

TRUNCATED = "\n... output truncated by the autograder: more than {limit} bytes in this cell ...\n"
#: The kernel messages that carry an output: every one is capped.
OUTPUT_MESSAGES = ("stream", "display_data", "execute_result", "update_display_data", "error")
#: Lone UTF-16 surrogates: valid in a Python string and in JSON escapes, not in UTF-8.
SURROGATE = re.compile("[\ud800-\udfff]")
#: The display type of an observation, which a hidden test cell sends for the grader to judge
#: (`vaelab.checks.wire.MIME`): kept out of the notebook, handed to `autograder.judge`.
OBSERVATION = "application/vnd.vaelab.observation+json"
#: The most characters of observations one test cell may send, and the most messages.
MAX_OBSERVATION_CHARS = 64 << 20
MAX_OBSERVATIONS = 8
#: Run before a test cell; the user expression returns what had to be restored (JSON).
GUARD_RESTORE = "getattr(__import__('sys'), {name!r}).restore()"
#: Run after a test cell; the user expression returns what changed during it (JSON).
GUARD_CHECK = "getattr(__import__('sys'), {name!r}).differences()"


# ---------------------------------------------------------------------------------------------
# Output caps (pure functions of a kernel message)


def _length(value) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def output_size(msg_type: str, content: dict) -> int:
    """The size of an output message's content, in characters."""
    if msg_type == "stream":
        return _length(content.get("text", ""))
    if msg_type == "error":
        return sum(_length(content.get(key, "")) for key in ("ename", "evalue", "traceback"))
    metadata = content.get("metadata") or {}
    return sum(_length(v) for v in (content.get("data") or {}).values()) + (_length(metadata) if metadata else 0)


def _clip_lines(lines: list[str], room: int) -> list[str]:
    """The first lines of `lines` that fit in `room` characters, the last one cut."""
    kept = []
    for line in lines:
        line = str(line)
        if room <= 0:
            break
        kept.append(line[:room])
        room -= len(line)
    return kept


def shrink(msg_type: str, content: dict, room: int) -> dict:
    """`content` cut to at most about `room` characters: a stream's text; an error's value
    and the first lines of its traceback (its name is kept); a rich output's plain text only (a cut HTML page or
    image would be broken), without its metadata."""
    if msg_type == "stream":
        return {**content, "text": str(content.get("text", ""))[:room]}
    if msg_type == "error":  # the value gets half the room at most, the traceback the rest
        evalue = str(content.get("evalue", ""))[: room // 2]
        return {
            **content,
            "evalue": evalue,
            "traceback": _clip_lines(list(content.get("traceback") or []), room - len(evalue)),
        }
    plain = (content.get("data") or {}).get("text/plain", "")
    plain = plain if isinstance(plain, str) else ""
    return {**content, "data": {"text/plain": plain[:room]}, "metadata": {}}


def cap_message(msg: dict, budget: int, copies: int = 1) -> tuple[dict | None, int, bool]:
    """`(message, budget left, truncated)` for an output message that writes `copies` outputs,
    under a `budget` of characters: all copies must fit. The message is cut so that they do (the
    budget is then spent), or is None when nothing of it fits. The message's type, in its header too, is unchanged."""
    msg_type = msg["msg_type"]
    size = output_size(msg_type, msg["content"])
    if size * copies <= budget:
        return msg, budget - size * copies, False
    room = budget // copies
    if room <= 0:
        return None, budget, True
    # Once a message is cut, the budget is spent: what follows it would read as if nothing was missing.
    return {**msg, "content": shrink(msg_type, msg["content"], room)}, 0, True


def scrub(value):
    """`value` (JSON-like) with every lone surrogate of its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def valid_output(msg_type: str, content) -> bool:
    """Whether `content` has the types an output of `msg_type` needs (nbformat's schema and
    nbclient's display-id map rely on them)."""
    if not isinstance(content, dict):
        return False
    if msg_type == "stream":
        return content.get("name") in ("stdout", "stderr") and isinstance(content.get("text"), str)
    if msg_type == "error":
        traceback = content.get("traceback", [])
        return (
            all(isinstance(content.get(k, ""), str) for k in ("ename", "evalue"))
            and isinstance(traceback, list)
            and all(isinstance(line, str) for line in traceback)
        )
    data, metadata, transient = content.get("data"), content.get("metadata", {}), content.get("transient") or {}
    return (
        isinstance(data, dict)
        and all(isinstance(k, str) for k in data)
        and isinstance(metadata, dict)
        and isinstance(transient, dict)
        and isinstance(transient.get("display_id", ""), str)
    )


def truncation_note(msg: dict, limit: int) -> dict:
    """A stream message, in reply to the same request as `msg`, saying that output was cut."""
    return {
        **msg,
        "msg_type": "stream",
        "header": {**msg["header"], "msg_type": "stream"},
        "content": {"name": "stdout", "text": TRUNCATED.format(limit=limit)},
    }


RERUN = (
    "Output above: the grader's own run, in fast mode (far fewer training steps than your run, figures not "
    "drawn), so losses are not those of your notebook; your own run's outputs are in the notebook you submitted."
)


def rerun_label() -> NotebookNode:
    """The output that the grader appends to a cell that is not a test: its other outputs come
    from the grader's fast re-run, not from the student's own run."""
    return notebooks.origin_label(RERUN)


# ---------------------------------------------------------------------------------------------
# The guard's code, as the kernel runs it


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
            found += [n for n in names if n.split(".")[0] in guard.COURSE and n not in found]
    return found


def _python_only(source: str) -> str:
    """The source without IPython's magics and shell escapes (`%matplotlib`, `!ls`)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def guard_install_code(name: str, modules: list[str], lib: str) -> str:
    """The code that installs `autograder.guard` in a kernel, as `sys.<name>`: the module's
    source runs in a namespace of its own (nothing is left in the notebook's namespace, nor in
    `sys.modules`)."""
    source = Path(guard.__file__).read_text(encoding="utf-8")
    return "\n".join(
        [
            "import sys as _sys",
            "_namespace = {'__name__': '_autograder_guard'}",
            f"exec(compile({source!r}, '<autograder guard>', 'exec'), _namespace)",
            f"setattr(_sys, {name!r}, _namespace['install']({modules!r}, {lib!r}, get_ipython()))",
            "del _sys, _namespace",
        ]
    )


# ---------------------------------------------------------------------------------------------
# The execution step


class GuardedExecute(Execute):
    """See the module docstring."""

    notebook_timeout = Integer(900, help="time limit for the whole notebook, in seconds (0: none)").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="the most output kept per cell, in bytes (0: no limit)").tag(config=True)
    guard = Bool(False, help="snapshot, restore and check the test machinery around test cells").tag(config=True)
    report_path = Unicode("", help="where to write the JSON report").tag(config=True)
    lib_dir = Unicode("", help="the course library the kernel imports").tag(config=True)
    observations_path = Unicode("", help="where to write the observations of the test cells (JSON lines)").tag(
        config=True
    )

    def __init__(self, *args, **kwargs):
        # nbgrader's Execute defaults to AsyncKernelManager; the self-check passes its own.
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        # As ExecutePreprocessor.preprocess, cell by cell with the guards (see the docstring).
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.report = ExecutionReport(guard="not needed" if self.guard else "off")
        self._deadline: float | None = None  # set once the kernel is ready: start-up is free
        self._stopped: tuple[str, str] | None = None  # the error of the cells not run
        self._guard_name = f"_autograder_guard_{secrets.token_hex(8)}"
        self._guard_ready = False
        self.timeout_func = self._cell_timeout
        self.observations: list[tuple[str, dict]] = []  # (test cell's grade_id, observation), in order
        start = time.monotonic()
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if self.notebook_timeout:
                    self._deadline = time.monotonic() + self.notebook_timeout
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type == "code" and cell.source.strip():
                        self._run_cell(index, cell, resources)
        finally:
            self.report.seconds = round(time.monotonic() - start, 1)
            if self.report_path:
                report.save(Path(self.report_path), self.report)
            if self.observations_path:
                self._save_observations()
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _cell_timeout(self, cell) -> int | None:
        """The cell's time limit: nbgrader's per-cell timeout, or less when the notebook's
        time is nearly spent."""
        limit = self.timeout if self.timeout and self.timeout > 0 else None
        if self._deadline is not None:
            left = max(1, int(self._deadline - time.monotonic() + 0.999))
            limit = left if limit is None else min(limit, left)
        return limit

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _run_cell(self, index: int, cell: NotebookNode, resources) -> None:
        """Runs one code cell, or marks it as not run; restores and checks the test machinery
        around a test cell."""
        label = notebooks.cell_label(cell, index)
        if not self._stopped and self._out_of_time():
            self.report.notebook_timeout = True
            self._stopped = (
                NOTEBOOK_TIMEOUT,
                f"not run, the notebook ran out of its time limit ({self.notebook_timeout} s)",
            )
        if self._stopped:
            cell.outputs = [error_output(*self._stopped)]
            self.report.not_run.append(label)
            return
        if self.guard and not self._guard_ready and not nbgrader_utils.is_locked(cell):
            self._guard_ready = self._install_guard()
            self.report.guard = "installed" if self._guard_ready else "failed"
        guarded = self.guard and self._guard_ready and notebooks.is_test(cell)
        if guarded:
            restored = self._silent(GUARD_RESTORE.format(name=self._guard_name))
            self.report.restored += [r for r in restored or [] if r not in self.report.restored]
        ran = self._execute(index, cell, resources, label)
        if ran and self.guard and not notebooks.is_test(cell) and any(o.output_type != "error" for o in cell.outputs):
            cell.outputs.append(rerun_label())
        if ran and guarded:
            changed = self._silent(GUARD_CHECK.format(name=self._guard_name))
            if changed:
                self.report.tampering.append(Tampering(label, changed))
                cell.outputs.append(
                    error_output(
                        TAMPERING,
                        "the grader's test machinery was modified while this test ran "
                        f"({', '.join(changed[:5])}): no points",
                    )
                )

    def _execute(self, index: int, cell: NotebookNode, resources, label: str) -> bool:
        """Executes the cell; False when the kernel is gone after it (the cells after it are
        then not run)."""
        self._budgets = {"outputs": self.max_output_bytes, "errors": self.max_output_bytes}
        self._cell_truncated = False
        try:
            self.preprocess_cell(cell, resources, index)
        except DeadKernelError:
            code, signal_number = exit_status(self.km)
            how = describe_death(code, signal_number)
            self.report.kernel_death = KernelDeath(label, code, signal_number, how)
            cell.outputs.append(error_output(DEAD_KERNEL, f"the kernel died while running this cell: {how}"))
            self._stopped = (DEAD_KERNEL, "not run, the kernel had died")
            return False
        except RecursionError:  # a message nested deeper than json can decode: the kernel's doing, stop it
            how = "it sent a message nested too deeply for the grader to read, and was shut down"
            self.report.kernel_death = KernelDeath(label, None, None, how)
            cell.outputs.append(error_output(DEAD_KERNEL, f"the kernel was stopped while running this cell: {how}"))
            self._kill()
            self._stopped = (DEAD_KERNEL, "not run, the kernel had to be shut down")
            return False
        except CellTimeoutError:  # the kernel ignored the interrupt after a timeout: stop it
            cell.outputs.append(
                error_output(
                    CELL_TIMEOUT,
                    "the cell did not stop when interrupted after its time limit; the kernel was shut down",
                )
            )
            self.report.timed_out.append(label)
            self.report.unresponsive = label
            self._kill()
            self._stopped = (CELL_TIMEOUT, "not run, the kernel had to be shut down")
            return False
        finally:
            if self._cell_truncated:
                self.report.truncated.append(label)
        if any(o.get("ename") == CELL_TIMEOUT for o in cell.outputs):
            self.report.timed_out.append(label)
            if self._out_of_time():
                self.report.notebook_timeout = True
        return True

    def _kill(self) -> None:
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # already gone
            pass

    def _silent(self, code: str):
        """Runs `code` silently in the kernel; returns its value decoded from JSON, or None
        when it failed or did not answer in time."""
        expression = f"__import__('json').dumps({code})"
        msg_id = self.kc.execute("pass", silent=True, store_history=False, user_expressions={"value": expression})
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

    def _install_guard(self) -> bool:
        locked = [c for c in self.nb.cells if c.cell_type == "code" and nbgrader_utils.is_locked(c)]
        code = guard_install_code(self._guard_name, imported_course_modules(locked), self.lib_dir)
        reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
        ok = bool(reply) and reply["content"].get("status") == "ok"
        if not ok:
            self.log.warning("guard not installed: %s", (reply or {}).get("content"))
        return ok

    def _save_observations(self) -> None:
        lines = [json.dumps({"cell": grade_id, "observation": data}) for grade_id, data in self.observations]
        Path(self.observations_path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def _take_observation(self, msg: dict, cell: NotebookNode) -> None:
        """Keeps an observation sent by a test cell while it runs (at most `MAX_OBSERVATIONS` of
        `MAX_OBSERVATION_CHARS` in all per cell); one sent by any other cell is dropped."""
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if not notebooks.is_test(cell) or not isinstance(grade_id, str):
            self.log.warning("dropped an observation sent outside a test cell")
            return
        data = msg["content"]["data"][OBSERVATION]
        mine = [d for g, d in self.observations if g == grade_id]
        size = len(json.dumps(data))
        if len(mine) >= MAX_OBSERVATIONS or size + sum(len(json.dumps(d)) for d in mine) > MAX_OBSERVATION_CHARS:
            data = {"refused": f"more than {MAX_OBSERVATIONS} observations or {MAX_OBSERVATION_CHARS} characters"}
        self.observations.append((grade_id, data))

    def process_message(self, msg, cell, cell_index):
        """Caps every output message before nbclient handles it (see the module docstring); keeps
        the observations of the test cells out of the notebook, for the grader to judge."""
        msg_type = msg.get("msg_type")
        if str(msg_type).startswith("comm"):  # widgets: no static page shows them; their state is unbounded
            return None
        content = msg.get("content")
        data = content.get("data") if isinstance(content, dict) else None
        if msg_type == "display_data" and isinstance(data, dict) and OBSERVATION in data:
            self._take_observation(msg, cell)
            return None
        limit = self.max_output_bytes
        if msg_type not in OUTPUT_MESSAGES:
            return super().process_message(msg, cell, cell_index)
        if not valid_output(msg_type, msg.get("content")):
            self.log.warning("dropped a malformed %s message", msg_type)
            return None
        msg = {**msg, "content": scrub(msg["content"])}
        if not limit:
            return super().process_message(msg, cell, cell_index)
        budgets = getattr(self, "_budgets", {"outputs": limit, "errors": limit})
        kind = "errors" if msg_type == "error" else "outputs"
        capped, budgets[kind], truncated = cap_message(msg, budgets[kind], self._copies(msg))
        output = None if capped is None else super().process_message(capped, cell, cell_index)
        if truncated and not getattr(self, "_cell_truncated", False):
            self._cell_truncated = True
            super().process_message(truncation_note(msg, limit), cell, cell_index)
        return output

    def _copies(self, msg: dict) -> int:
        """How many outputs `msg` writes: one for a new output (none for an update), plus one
        for each earlier output with its display id (nbclient rewrites them all)."""
        display_id = (msg["content"].get("transient") or {}).get("display_id")
        new = 0 if msg["msg_type"] == "update_display_data" else 1
        if not display_id or msg["msg_type"] not in ("display_data", "execute_result", "update_display_data"):
            return new
        return new + sum(len(indices) for indices in self._display_id_map.get(display_id, {}).values())

    def on_cell_executed(self, **kwargs):
        """nbgrader copies the error of the execute reply into the cell when no output has its
        name: cap it as an error output is capped."""
        reply = kwargs.get("execute_reply") or {}
        content = reply.get("content") or {}
        limit = self.max_output_bytes
        if content.get("status") == "error":
            if not valid_output("error", content):
                content = {**content, "ename": str(content.get("ename")), "evalue": str(content.get("evalue"))}
                content["traceback"] = [str(line) for line in content.get("traceback") or []]
            content = scrub(content)
            too_big = limit and output_size("error", content) > limit
            reply["content"] = shrink("error", content, limit) if too_big else content
        return super().on_cell_executed(**kwargs)

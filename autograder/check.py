"""`python -m autograder check chapters/NN_name.ipynb`: a student's self-check.

Runs the student's own notebook from top to bottom in fast mode (`VAELAB_FAST=1`), in its own
folder, with the student's usual Python kernel, and prints, for every exercise function, whether
its visible checks passed, or the check's message. The hidden tests are neither run nor shown:
they are not in a released notebook, and if the notebook holds some anyway (a source notebook)
they are stripped first (nbgrader's `ClearHiddenTests`). Passing the visible checks does not
guarantee full marks: the hidden tests try many more inputs.

Exit code: 0 when every function passes its visible checks, 1 otherwise, 2 when the file is not
a notebook.
"""

from __future__ import annotations

import copy
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import ClearHiddenTests

from . import notebooks
from .execute import GuardedExecute, describe_death

NOT_IMPLEMENTED = "NotImplementedError"


def _first_line(output) -> str:
    value = (output.get("evalue") or "").strip().splitlines()
    return f"{output.get('ename')}: {value[0]}" if value else str(output.get("ename"))


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def visible_results(nb) -> list[tuple[str, str, str]]:
    """`(function, verdict, message)` for each answer code cell of the executed notebook `nb`:
    verdict `passed`, `failed` or `not run`; message the first line of the first error."""
    answers, tests = {}, {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.cell_type != "code" or not grade_id:
            continue
        if meta.get("solution") and not meta.get("grade"):
            answers[grade_id] = cell
        elif meta.get("grade") and not meta.get("solution"):
            tests[grade_id] = cell
    results = []
    for function, answer in answers.items():
        mine = [cell for grade_id, cell in tests.items()
                if grade_id == f"test_{function}" or grade_id.startswith(f"test_{function}_")]
        errors = _errors(answer) + [o for cell in mine for o in _errors(cell)]
        if errors:
            message = _first_line(errors[0])
            if errors[0].get("ename") == NOT_IMPLEMENTED:
                message = "not implemented yet (the cell still raises NotImplementedError)"
            results.append((function, "failed", message))
        elif not mine:
            results.append((function, "passed", "no visible check for it"))
        elif any(cell.get("execution_count") is None and not cell.get("outputs") for cell in mine):
            results.append((function, "not run", ""))
        else:
            results.append((function, "passed", ""))
    return results


def edited_tests(nb) -> list[str]:
    """The locked cells whose source differs from the one released (nbgrader's checksum)."""
    edited = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and meta.get("checksum") and meta.get("grade_id"):
            if nbgrader_utils.compute_checksum(cell) != meta["checksum"]:
                edited.append(meta["grade_id"])
    return edited


def check(path: Path, timeout: int | None = 600) -> int:
    """Runs the self-check of the notebook at `path` and prints it; returns the exit code."""
    try:
        nb = notebooks.read(path)
    except Exception as error:  # not JSON, not a notebook
        print(f"error: {path} is not a notebook: {error}")
        return 2
    edited = edited_tests(nb)
    nb = copy.deepcopy(nb)
    nb, _ = ClearHiddenTests().preprocess(nb, {})  # never run nor show hidden tests
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    print(f"{path.name}: running the notebook in fast mode with its visible checks "
          "(the hidden tests run only when your instructor grades it) ...", flush=True)
    executor = GuardedExecute(kernel_manager_class=AsyncKernelManager, timeout=timeout,
                              notebook_timeout=0, guard=False, kernel_name="python3",
                              extra_arguments=["--IPKernelApp.log_level=ERROR"])
    with notebooks.environment(VAELAB_FAST="1", NBGRADER_EXECUTION=None):
        executor.preprocess(nb, {"metadata": {"path": str(path.resolve().parent)}})
    report = executor.report
    results = visible_results(nb)
    width = max([len(f) for f, _, _ in results] + [8])
    for function, verdict, message in results:
        print(f"  {function:<{width}}  {verdict}" + (f": {message}" if message else ""))
    if report.get("kernel_death"):
        death = report["kernel_death"]
        print(f"note: the kernel died in {death['cell']} ({describe_death(death['code'], death['signal'])}); "
              "the cells after it did not run")
    if report.get("timed_out"):
        print(f"note: timed out (> {timeout} s): {', '.join(report['timed_out'])}")
    if edited:
        print(f"note: you changed the test cells {', '.join(edited)}: the grader runs the "
              "original ones")
    passed = sum(verdict == "passed" for _, verdict, _ in results)
    total = len(results)
    status = "all visible checks pass" if passed == total else "some visible checks fail"
    print(f"visible checks: {passed} of {total} functions pass: {status}")
    return 0 if passed == total else 1

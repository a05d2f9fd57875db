"""Grading speed: seconds per five-chapter submission per core, and the speed-up of `--jobs N`.

A class of `--students` students, each submitting all five chapters with every exercise answered
(the reference answers, as `autograder.testing.make_submission` builds them), is graded end to end
with `python -m autograder grade` (sandbox, hidden tests, feedback pages: what an instructor runs),
once with `--jobs 1` and once with `--jobs N` (default 2), each into a fresh folder, in the same
run. Reported per run: the wall time, the seconds per five-chapter submission per core
(wall time x jobs / students; of them, the seconds `grade` spent on the student's notebooks, which
it prints per notebook: the rest is the batch's own start and end, paid once per batch) and, for
`--jobs N`, the speed-up (time with 1 job / time with N) and the parallel efficiency (speed-up /
N). The two runs must give the same grades.csv. The default class, 6 students, is small enough to
grade in a few minutes and large enough that the batch's start and end (about 7 s: imports,
preparing the five chapters, the class files) do not weigh as much as a student; `--students 2`
shows them weighing.

    .venv/bin/python benchmarks/grading_speed.py                  # 6 students, --jobs 1 and 2
    .venv/bin/python benchmarks/grading_speed.py --json benchmarks/results/grading_speed.json
    .venv/bin/python benchmarks/grading_speed.py --breakdown      # CPU seconds per stage, one submission
    .venv/bin/python benchmarks/grading_speed.py --breakdown --draw-figures   # the same, figures rendered to PNG
    .venv/bin/python benchmarks/grading_speed.py --solutions tests/fixtures/toy/solutions   # the toy chapter

Goal (issue 10, "Speed"): 15 s or less per five-chapter submission per core, and `--jobs 2` at
least 1.8x as fast as `--jobs 1`, on the 2-core course machine. Run it on a quiet machine: another
process on a core shows up as lost time and lost efficiency (print `uptime` next to the numbers).
While grading, the notebooks train only `vaelab.train.GRADING_STEPS` steps per model.

`--breakdown` grades one student's five chapters in this process instead, as a worker does (one
sandbox whose zygote forks each chapter's kernel: `autograder.runner.StudentSandbox`), and prints
the wall seconds of starting that sandbox and where the CPU seconds of each notebook go (the
kernel's, measured inside it after every cell, and the grader's own): kernel start (after the
fork), the setup cell (imports), training cells (those calling `steps_for`), test cells, the other
cells (evaluation, figures), nbgrader's autograde and generate_feedback steps. CPU seconds change
much less than wall time when other jobs share the machine. While grading, the kernels render no
figure (`vaelab.figures_rendered`); `--draw-figures` makes them render, to measure the difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install

from autograder import notebooks, testing  # noqa: E402

#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder,
#: {repo}: the repository): one student, the toy chapter of the autograder's tests, one `--jobs 1` run.
SMOKE_ARGS = [
    "--students",
    "1",
    "--jobs",
    "1",
    "--solutions",
    "{repo}/tests/fixtures/toy/solutions",
    "--json",
    "{tmp}/grading.json",
]


def write_class(root: Path, students: int, solutions: Path) -> list[str]:
    """`root/student01/<chapter>.ipynb` ... for every chapter of `solutions`; returns the chapter names."""
    sources = notebooks.chapter_sources(solutions)
    answered = {name: testing.make_submission(testing.read_notebook(path)) for name, path in sources.items()}
    testing.write_submissions(root, {f"student{i + 1:02d}": answered for i in range(students)})
    return list(sources)


#: The seconds `grade` prints at the end of each result's line (`autograder.batch.summary_line`).
NOTEBOOK_SECONDS = re.compile(r"\[(\d+(?:\.\d+)?) s\]$", re.M)


def grade(submissions: Path, out: Path, jobs: int, solutions: Path) -> tuple[float, float]:
    """Wall time of one `python -m autograder grade` run, in seconds, and the sum of the seconds
    its notebooks took (each result's line says how long grading that notebook took)."""
    start = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(submissions),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--solutions",
            str(solutions),
        ],
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return time.perf_counter() - start, sum(float(x) for x in NOTEBOOK_SECONDS.findall(run.stdout))


#: What the kernel reports after each cell: its CPU seconds so far (user + system).
_KERNEL_CPU = "(lambda r: r.ru_utime + r.ru_stime)(__import__('resource').getrusage(0))"
STAGES = ("kernel start", "setup cell", "training cells", "test cells", "other cells", "autograde", "judge", "feedback")


def _stage(cell) -> str:
    label = cell.metadata.get("nbgrader", {}).get("grade_id", "")
    if label == "setup":
        return "setup cell"
    if label.startswith("test_"):
        return "test cells"
    return "training cells" if "steps_for(" in cell.source else "other cells"


@contextlib.contextmanager
def _cpu_probes(seconds: dict):
    """Adds the CPU seconds of each stage of the notebooks graded inside to `seconds`."""
    from autograder import course, execute, runner

    run, execute_cell, judgements = course.Course._run, execute.GuardedExecute._execute, runner._judgements

    def timed_judgements(*args, **kwargs):
        start = time.process_time()
        try:
            return judgements(*args, **kwargs)
        finally:
            seconds["judge"] = seconds.get("judge", 0.0) + time.process_time() - start

    def timed_run(self, converter, chapter, student):
        start = time.process_time()
        try:
            return run(self, converter, chapter, student)
        finally:
            stage = {"Autograde": "autograde", "GenerateFeedback": "feedback"}.get(converter.__name__)
            if stage:
                seconds[stage] = seconds.get(stage, 0.0) + time.process_time() - start

    def timed_cell(self, index, cell, resources, label):
        before = self._silent(_KERNEL_CPU) or 0.0
        if not getattr(self, "_probed", False):
            self._probed = True
            seconds["kernel start"] = seconds.get("kernel start", 0.0) + before
        try:
            return execute_cell(self, index, cell, resources, label)
        finally:
            spent = (self._silent(_KERNEL_CPU) or before) - before
            seconds[_stage(cell)] = seconds.get(_stage(cell), 0.0) + spent

    course.Course._run, execute.GuardedExecute._execute, runner._judgements = timed_run, timed_cell, timed_judgements
    try:
        yield seconds
    finally:
        course.Course._run, execute.GuardedExecute._execute, runner._judgements = run, execute_cell, judgements


@contextlib.contextmanager
def _figures_drawn(draw: bool):
    """With `draw`, the grader's kernels render figures to PNG as outside grading: their environment
    (`autograder.runner.GRADING_ENVIRONMENT`, they inherit nothing else) gets `VAELAB_GRADING_FIGURES=1`."""
    from autograder import runner

    saved = dict(runner.GRADING_ENVIRONMENT)
    if draw:
        runner.GRADING_ENVIRONMENT["VAELAB_GRADING_FIGURES"] = "1"
    try:
        yield
    finally:
        runner.GRADING_ENVIRONMENT.clear()
        runner.GRADING_ENVIRONMENT.update(saved)


def breakdown(
    solutions: Path, draw_figures: bool = False
) -> tuple[dict[str, dict[str, float]], dict[str, float], float]:
    """CPU seconds per stage (`STAGES`) of grading one student's submission of each chapter, in this
    process, in one shared sandbox as a worker does; the CPU seconds of preparing each chapter (once
    per batch: its nbgrader course and the expected observations of its checks); the wall seconds
    of starting the student's sandbox (once per student: its zygote's imports).

    `draw_figures`: the kernels render figures to PNG as outside grading (`VAELAB_GRADING_FIGURES=1`,
    see `vaelab.figures_rendered`), to measure what not drawing them saves."""
    from autograder import grade as grading
    from autograder import runner, sandbox
    from autograder.inputs import Submission

    table, prepared = {}, {}
    options = grading.Options(isolation=sandbox.resolve("auto"))
    with (
        tempfile.TemporaryDirectory(prefix="grading-breakdown-") as tmp,
        _figures_drawn(draw_figures),
        runner.StudentSandbox(options.isolation, options.limits()) as students,
    ):
        tmp = Path(tmp)
        chapters = write_class(tmp / "in", 1, solutions)
        start = time.perf_counter()
        students.box(chapters[0])  # once per student: the zygote's imports (wall seconds)
        opened = round(time.perf_counter() - start, 2)
        for name in chapters:
            start = time.process_time()
            chapter = runner.prepare_chapter(solutions / f"{name}.ipynb", tmp / "work" / name)
            prepared[name] = round(time.process_time() - start, 2)
            path = tmp / "in" / "student01" / f"{name}.ipynb"
            with _cpu_probes({}) as seconds:
                start = time.perf_counter()
                result = grading.grade_one(
                    Submission("student01", name, path), chapter, tmp / "out", options, "", students
                )
                wall = time.perf_counter() - start
            if result.status != "graded":
                raise RuntimeError(f"{name}: {result.status}: {result.message}")
            table[name] = {stage: round(seconds.get(stage, 0.0), 2) for stage in STAGES}
            table[name]["total"] = round(sum(seconds.values()), 2)
            table[name]["wall"] = round(wall, 2)
            print(f"{name:10s} " + " ".join(f"{table[name][k]:7.2f}" for k in (*STAGES, "total", "wall")), flush=True)
    table["all"] = {k: round(sum(row[k] for row in table.values()), 2) for k in (*STAGES, "total", "wall")}
    print(f"{'all':10s} " + " ".join(f"{table['all'][k]:7.2f}" for k in (*STAGES, "total", "wall")))
    print("once per student, the sandbox and its zygote:", opened, "s (wall)")
    print("CPU s once per batch (nbgrader's course, the expected observations):", prepared)
    return table, prepared, opened


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6, help="five-chapter submissions (a class)")
    parser.add_argument("--jobs", type=int, default=2, help="the parallel run's --jobs (1: no parallel run)")
    parser.add_argument(
        "--solutions",
        type=Path,
        default=REPO / "solutions",
        help="the source notebooks to grade against (default: %(default)s)",
    )
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--breakdown", action="store_true", help="CPU seconds per stage of one submission per chapter")
    parser.add_argument(
        "--draw-figures",
        action="store_true",
        help="with --breakdown: the kernels render figures to PNG as outside grading (VAELAB_GRADING_FIGURES=1)",
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()  # 1, 5 and 15 minutes: the other jobs on this machine
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    if args.breakdown:
        print("CPU seconds per stage; wall: seconds of the whole grading of that notebook")
        print(f"{'chapter':10s} " + " ".join(f"{k.split()[0][:7]:>7s}" for k in (*STAGES, "total", "wall")))
        table, prepared, opened = breakdown(args.solutions, draw_figures=args.draw_figures)
        if args.json:
            found = {
                "cpu_seconds": table,
                "prepared_once_per_batch_cpu_seconds": prepared,
                "student_sandbox_wall_seconds": opened,
                "draw_figures": args.draw_figures,
                "load_average_before": load_before,
            }
            Path(args.json).write_text(json.dumps(found, indent=2))
        return 0

    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        tmp = Path(tmp)
        chapters = write_class(tmp / "in", args.students, args.solutions)
        runs = {}
        for jobs in dict.fromkeys((1, args.jobs)):  # --jobs 1: a single run
            seconds, notebooks_seconds = grade(tmp / "in", tmp / f"out{jobs}", jobs, args.solutions)
            runs[jobs] = {
                "wall_seconds": round(seconds, 1),
                "seconds_per_submission_per_core": round(seconds * jobs / args.students, 1),
                "notebook_seconds_per_submission": round(notebooks_seconds / args.students, 1),
            }
            print(
                f"--jobs {jobs}: {seconds:.1f} s for {args.students} students x "
                f"{len(chapters)} chapters: {seconds * jobs / args.students:.1f} s per "
                f"five-chapter submission per core ({notebooks_seconds / args.students:.1f} s of it grading "
                "the notebooks, the rest the batch's start and end)",
                flush=True,
            )
        grades = [(tmp / f"out{jobs}" / "grades.csv").read_text() for jobs in (1, args.jobs)]
        statuses = {row["status"] for row in testing.read_csv(tmp / "out1" / "grades.csv")}
        if grades[0] != grades[1]:
            print("error: --jobs 1 and --jobs N gave different grades.csv", file=sys.stderr)
            return 1
        if statuses != {"graded"}:
            print(f"error: not every notebook was graded: {sorted(statuses)}", file=sys.stderr)
            return 1
    speedup = runs[1]["wall_seconds"] / runs[args.jobs]["wall_seconds"]
    efficiency = speedup / args.jobs
    print(
        f"speed-up of --jobs {args.jobs}: {speedup:.2f}x, parallel efficiency "
        f"{100 * efficiency:.0f} % (same grades.csv: yes)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "students": args.students,
                    "chapters": chapters,
                    "runs": {str(k): v for k, v in runs.items()},
                    "speedup": round(speedup, 2),
                    "efficiency": round(efficiency, 3),
                    "cpus": os.cpu_count(),
                    "machine": platform.machine(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

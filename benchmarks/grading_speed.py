"""Grading speed: seconds per five-chapter submission per core, and the speed-up of `--jobs N`.

A class of `--students` students, each submitting all five chapters with every exercise answered
(the reference answers, as `autograder.testing.make_submission` builds them), is graded end to end
with `python -m autograder grade` (sandbox, hidden tests, feedback pages: what an instructor runs),
once with `--jobs 1` and once with `--jobs N` (default 2), each into a fresh folder, in the same
run. Reported per run: the wall time, the seconds per five-chapter submission per core
(wall time x jobs / students) and, for `--jobs N`, the speed-up (time with 1 job / time with N)
and the parallel efficiency (speed-up / N). The two runs must give the same grades.csv.

    .venv/bin/python benchmarks/grading_speed.py                  # 2 students, --jobs 1 and 2
    .venv/bin/python benchmarks/grading_speed.py --students 4 --json benchmarks/results/grading.json
    .venv/bin/python benchmarks/grading_speed.py --solutions tests/fixtures/toy/solutions   # the toy chapter

Goal (issue: the autograder for a real class): 60 s or less per submission per core, and at least
80 % parallel efficiency with `--jobs 2` on the 2-core course machine. Run it on a quiet machine:
another process on a core shows up as lost efficiency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def grade(submissions: Path, out: Path, jobs: int, solutions: Path) -> float:
    """Wall time of one `python -m autograder grade` run, in seconds."""
    start = time.perf_counter()
    subprocess.run(
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
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2, help="five-chapter submissions")
    parser.add_argument("--jobs", type=int, default=2, help="the parallel run's --jobs (1: no parallel run)")
    parser.add_argument(
        "--solutions",
        type=Path,
        default=REPO / "solutions",
        help="the source notebooks to grade against (default: %(default)s)",
    )
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        tmp = Path(tmp)
        chapters = write_class(tmp / "in", args.students, args.solutions)
        runs = {}
        for jobs in dict.fromkeys((1, args.jobs)):  # --jobs 1: a single run
            seconds = grade(tmp / "in", tmp / f"out{jobs}", jobs, args.solutions)
            runs[jobs] = {
                "wall_seconds": round(seconds, 1),
                "seconds_per_submission_per_core": round(seconds * jobs / args.students, 1),
            }
            print(
                f"--jobs {jobs}: {seconds:.1f} s for {args.students} students x "
                f"{len(chapters)} chapters: {seconds * jobs / args.students:.1f} s per "
                "five-chapter submission per core",
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
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

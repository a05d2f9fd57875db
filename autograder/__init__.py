"""The course's nbgrader tooling: ``python -m autograder <command>``.

Commands (run with the course's virtualenv: kernels are started with this Python)::

    release [--solutions DIR] [--chapters DIR] [--check]
        Regenerate chapters/NN_name.ipynb from the nbgrader source notebooks
        solutions/NN_name.ipynb with `nbgrader generate_assignment` (outputs cleared, solution
        regions replaced by stubs, hidden tests removed), written byte-for-byte reproducibly.
        --check writes nothing and exits 1 naming the notebooks that differ from a fresh release.
        solutions/ is never modified.

    grade SUBMISSIONS --out DIR [--timeout SECONDS] [--notebook-timeout SECONDS]
          [--memory-limit SIZE] [--max-output SIZE] [--max-processes N]
          [--disk-limit SIZE] [--isolation auto|bwrap|rlimits]
          [--jobs N] [--force] [--solutions DIR] [--db URL] [--shard i/N] [--similarity-threshold X]
        Autograde every notebook of SUBMISSIONS (a folder or a .zip): the plain layout
        <student>/<chapter>.ipynb, or an LMS export (see "Submissions" below). Each notebook is
        graded in a temporary nbgrader course of its own, in fast mode, by a worker process that
        grades one student's chapters in order (--jobs N workers at once), its kernel in a sandbox
        (`autograder.sandbox`: bubblewrap, where a zygote forks each chapter's kernel, or
        process limits only with an explicit --isolation rlimits) with a per-cell time limit (--timeout,
        default 180 s), a per-notebook time limit (--notebook-timeout, default 900 s), a memory
        limit (--memory-limit, default 4G) and a cap on the output kept per cell (--max-output,
        default 1M). The test cells run with the test machinery restored from a snapshot and
        checked afterwards (`autograder.execute`). DIR receives results/<student>/<chapter>.json
        (one per submission, written atomically as soon as it is graded; a re-run keeps the
        results whose submission, source notebook and test code did not change, so a batch
        killed in the middle resumes; --force regrades all), grades.csv (student, chapter,
        score, max_score, manual_max, status, message, name, file), scores_by_function.csv
        (student, chapter, grade_id, kind, score, max_score), feedback/<student>/<chapter>.html
        (a score table per function and the named mistakes above nbgrader's feedback),
        summary.html (the class: histogram, failure rate per function, common mistakes, answers
        alike), similarity.csv (see `similarity` below) and logs/<student>/<chapter>.log.
        Statuses: graded, missing_cells, timeout, memory, crashed (graded: the cells that could
        not run score 0), invalid, error (not graded). A bad
        submission never stops the batch; the exit code is 0 once the batch ran, 2 on usage
        errors. --db URL also writes every result to a gradebook database (nbgrader's tables
        and autograder_result; PostgreSQL or SQLite) and --shard i/N grades only the i-th of N
        disjoint parts of the class (by student id), for several machines sharing one --db
        gradebook. See `autograder.batch` and `autograder.gradebook`.

    check NOTEBOOK [--timeout SECONDS]
        The student's self-check: run NOTEBOOK in fast mode with its visible checks only (the
        hidden tests are neither run nor shown) and print, per exercise function, passed or the
        check's message, then the total. Exit code 0 when all pass, 1 otherwise, 2 when the file
        is not a notebook. See `autograder.check`.

    export --out DIR [--format csv] [--db URL]
        Write DIR/export.csv from DIR/grades.csv, as an LMS gradebook import wants it: one row
        per student, the columns `student`, one per chapter (its autograded score; 0 when it
        was not submitted or could not be graded) and `total`. See `autograder.feedback.export`.
        With --db URL, first write DIR/grades.csv, scores_by_function.csv and summary.html of
        the whole class from that gradebook (every shard's results).

    similarity SUBMISSIONS --out DIR [--threshold X] [--solutions DIR]
        The class's similarity report alone (`grade` writes it too, threshold
        --similarity-threshold): DIR/similarity.csv (chapter, exercise, student_a, student_b,
        similarity, flagged, note) and DIR/similarity.html, the pairs of answers alike after
        normalisation (copydetect's fingerprints) and the answers alike the reference solution,
        flagged from X on (default 0.9). See `autograder.similarity`.

    book [--fast] [--out DIR] [--solutions DIR] [--timeout SECONDS] [--jobs N]
        Execute each solution notebook (fast mode with --fast or VAELAB_FAST=1) and write its
        student view with the outputs kept to DIR/chapters/NN_name.ipynb (default DIR:
        book/_generated) for Jupyter Book; skipped when the stamp next to it says that nothing it
        depends on changed; --jobs N executes N notebooks at once. See `autograder.book`.

Submissions (`autograder.inputs`): the plain layout `<student>/<notebook>.ipynb`; Canvas
`<name>_<userid>_<submissionid>_<notebook>.ipynb` (also `<name>_LATE_<userid>_...`; student id:
userid); Moodle `<Full Name>_<id>_assignsubmission_file_/<notebook>.ipynb`, or the same as a flat
file name (student id: the participant id); Blackboard
`<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<notebook>.ipynb` (student id: username;
the latest attempt counts, receipts are ignored). The chapter is the chapter id that the
notebook's file name contains (`01_vae` in `01_VAE-1.ipynb`).

Modules (see ARCHITECTURE.md for who imports whom):

- commands: `cli` (arguments), `release`, `batch` (`grade`: a class), `check`, `book`;
- grading one submission: `grade` (the pipeline), `preflight` (reading it, what it changed),
  `runner` (nbgrader in a course copy: the run), `classify` (status, notes, named mistakes:
  pure), `result` (`Result`, `CellScore`, statuses, CSV columns, stored results), `feedback`
  (pages, class summary, export), `gradebook` (the database and the shards), `inputs` (finding
  submissions), `similarity` (answers alike across the class);
- running untrusted code: `course` (a temporary nbgrader course and its steps), `execute`
  (nbgrader's execution step, hardened: time limits, dead kernels, output caps, the guard),
  `report` (`ExecutionReport`: what happened while a notebook ran), `sandbox` (the kernel's
  sandbox and limits, the course library and its hash), `guard` (the test guard, run inside the
  kernel);
- shared: `files` (the repository's root, hashes, atomic writes), `notebooks` (canonical
  writing, the student view, the leak check, nbgrader's cell metadata, the kernel
  environment), `testing` (helpers for end-to-end tests of the chapters), `hidden` (the
  hidden-test logic that the source notebooks call).
"""

import sys as _sys

# jsonschema, which nbformat uses to validate notebooks, imports `rfc3987_syntax` when it is
# installed (jupyter-events asks for it), and that module builds about 35 Earley parsers when it
# is imported: 1.5 s in every grading process (python-jsonschema/jsonschema#1428). It only checks
# the "iri" and "iri-reference" string formats, which no notebook schema uses; without it,
# jsonschema leaves those two formats unchecked.
_sys.modules.setdefault("rfc3987_syntax", None)

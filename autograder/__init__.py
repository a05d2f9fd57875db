"""The course's nbgrader tooling: ``python -m autograder <command>``.

Commands (run with the course's virtualenv: kernels are started with this Python)::

    release [--solutions DIR] [--chapters DIR] [--check]
        Regenerate chapters/NN_name.ipynb from the nbgrader source notebooks
        solutions/NN_name.ipynb with `nbgrader generate_assignment` (outputs cleared, solution
        regions replaced by stubs, hidden tests removed), written byte-for-byte reproducibly.
        --check writes nothing and exits 1 naming the notebooks that differ from a fresh release.
        solutions/ is never modified.

    grade SUBMISSIONS --out DIR [--timeout SECONDS] [--solutions DIR]
        Autograde every SUBMISSIONS/<student>/<chapter>.ipynb (SUBMISSIONS may be a .zip), each
        in a temporary nbgrader course of its own, in fast mode, with a per-cell time limit
        (default 180 s), then generate nbgrader's HTML feedback. DIR receives grades.csv
        (student, chapter, score, max_score, manual_max, status, message),
        scores_by_function.csv (student, chapter, grade_id, kind, score, max_score),
        feedback/<student>/<chapter>.html and logs/<student>/<chapter>.log. A bad submission
        gets a status (invalid, missing_cells, timeout, error) and never stops the batch; the
        exit code is 0 once the batch ran, 2 on usage errors. See `autograder.grade`.

    book [--fast] [--out DIR] [--solutions DIR] [--timeout SECONDS]
        Execute each solution notebook (fast mode with --fast or VAELAB_FAST=1) and write its
        student view with the outputs kept to DIR/chapters/NN_name.ipynb (default DIR:
        book/_generated) for Jupyter Book; skipped when the stamp next to it says that nothing it
        depends on changed. See `autograder.book`.

Modules: `cli` (arguments), `release`, `grade`, `book` (the commands), `course` (a temporary
nbgrader course and the nbgrader steps run in it), `notebooks` (canonical writing, the student
view, the leak check, the kernel environment), `testing` (helpers for end-to-end tests of the
chapters), `hidden` (the hidden-test logic that the source notebooks call).
"""

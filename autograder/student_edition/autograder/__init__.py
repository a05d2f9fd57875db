"""The student's side of the course's tools: ``python -m autograder check NOTEBOOK``.

Grading happens on your instructor's machine, with tests you do not see; this package only runs
the visible checks of your own notebook (:mod:`vaelab.selfcheck`).
"""

"""A throw-away nbgrader course directory, and nbgrader's three steps run inside it.

Every release and every graded submission gets a `Course` of its own in a temporary folder:

    <root>/gradebook.db
    <root>/source/<chapter>/<chapter>.ipynb          the solution notebook (a copy)
    <root>/release/<chapter>/<chapter>.ipynb         `generate_assignment`
    <root>/submitted/student/<chapter>/<chapter>.ipynb
    <root>/autograded/student/<chapter>/<chapter>.ipynb   `autograde`
    <root>/feedback/student/<chapter>/<chapter>.html      `generate_feedback`

The assignment and the notebook are both named after the chapter; the student is always called
`student` inside a course (the real name stays outside, so any folder name works). nbgrader runs
in-process through its converters, as its own `NbGraderAPI` does; its log is captured, never
printed.
"""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path

import jinja2
import jinja2.bccache
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbgrader.preprocessors.base import NbGraderPreprocessor
from nbgrader.utils import capture_log, temp_attrs
from traitlets.config import Config

from . import notebooks
from .execute import GuardedExecute
from .report import Judgement, error_output, stream_output
from .sandbox import Sandbox

STUDENT = "student"

#: nbgrader's log goes here (and to `Course.log`), not to the terminal.
LOG = logging.getLogger("autograder.nbgrader")
LOG.propagate = False
LOG.setLevel(logging.INFO)

#: stderr outputs matching this are dropped before scoring: nbgrader gives 0 points to a test
#: cell with any stderr output, and a harmless warning from a correct answer must not cost points.
WARNING_PATTERN = r"Warning\b"


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, for nbgrader's feedback pages, less two costs of every page.

    - HTMLExporter parses its whole page again with BeautifulSoup to add `tabindex` to cells and
      alt text to images (a quarter to a half of a page's 0.45 s). `feedback.sanitize` removes every
      `tabindex`; the alt text is added here, to the images that lack one, with nbconvert's words.
    - Jinja compiles the templates anew for each exporter; their compiled code is kept for the
      process's next pages (`jinja2.BytecodeCache`, in memory).
    """

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        # As HTMLExporter.from_notebook_node up to its BeautifulSoup pass.
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter(
            "highlight_code", self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        )
        resources = self._init_resources(resources)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
        )
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return NO_ALT.sub(r'<img alt="No description has been provided for this image"\1', html), resources


class _Bytecode(jinja2.BytecodeCache):
    """Compiled templates, in memory, for the life of the process."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _Bytecode()
#: An `<img` tag without an `alt` attribute (group 1: the rest of its opening).
NO_ALT = re.compile(r"<img\b(?![^>]*\balt=)([^>]*>)", re.IGNORECASE)


class NbgraderError(RuntimeError):
    """An nbgrader step failed; the message names the exception that made it fail."""


def _cause(log: str) -> str:
    """The first exception line in nbgrader's log (nbgrader logs the traceback of the real
    error, then raises a generic "Please see the above traceback")."""
    causes = [
        line.strip()
        for line in log.splitlines()
        if re.match(r"\s*[\w.]+(Error|Exception|Interrupt)\b", line) and "Please see the" not in line
    ]
    return causes[0] if causes else "unknown error (see the log)"


class ShortTestTracebacks(NbGraderPreprocessor):
    """Feedback: the error of a test cell as its last line only (`AssertionError: the named
    mistake`). A full traceback would print the lines of the hidden tests it passed through."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type == "code" and notebooks.is_test(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output.traceback = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def _show(cell: NotebookNode, judgement: Judgement) -> None:
    """The judge's verdict as the last output of the test `cell`."""
    name = judgement.grade_id.removeprefix("test_")
    if judgement.restored:
        cell.outputs.append(stream_output(f"✓ {judgement.message}\n"))
    elif judgement.passed:
        cell.outputs.append(stream_output(f"✓ {name}: the grader's checks passed\n"))
    elif judgement.message and not any(o.output_type == "error" for o in cell.outputs):
        cell.outputs.append(error_output("AssertionError", judgement.message))


class Course:
    """An nbgrader course in the folder `root` (which must exist), with a per-cell execution
    `timeout` in seconds for `autograde`. `autograde` executes with `GuardedExecute` (see
    `autograder.execute`), configured by `sandbox(...)`."""

    def __init__(self, root: str | Path, timeout: int | None = None):
        self.root = Path(root)
        self.config = Config()
        self.config.CourseDirectory.root = str(self.root)
        self.config.Execute.timeout = timeout
        self.config.IgnorePattern.enabled = True
        self.config.IgnorePattern.pattern = WARNING_PATTERN
        # Quiet kernels: ipykernel warns on stderr about unencrypted TCP at every start.
        self.config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
        # After the last cell the kernel holds nothing of value: stop it at once. The graceful
        # default sends a shutdown request and polls for the exit, which took about 3 s per
        # notebook (a third of a chapter's grading without training); the sandbox then kills
        # whatever the kernel left, as it does after a graceful exit.
        self.config.Execute.shutdown_kernel = "immediate"
        self.config.Autograde.autograde_preprocessors = [
            GuardedExecute,
            IgnorePattern,
            ClearMetadataPreprocessor,
            LimitOutput,
            SaveAutoGrades,
            AssignLatePenalties,
            CheckCellMetadata,
        ]
        # The feedback shows every cell and its outputs (the named mistakes), but not the source
        # of the hidden tests, which the next class would otherwise read.
        self.config.GenerateFeedback.preprocessors = [
            GetGrades,
            ClearHiddenTests,
            ShortTestTracebacks,
            CSSHTMLHeaderPreprocessor,
        ]
        self.config.ClearHiddenTests.enforce_metadata = False
        self.config.GenerateFeedback.exporter_class = FeedbackExporter
        self.coursedir = CourseDirectory(config=self.config)
        self.log = ""

    def sandbox(
        self,
        box: Sandbox,
        *,
        report: Path,
        environment: dict[str, str],
        guard: bool = True,
        observations: Path | None = None,
    ) -> None:
        """How `autograde` runs the kernel: in the sandbox `box` (`autograder.sandbox`), under
        its limits, with the JSON `report` of `GuardedExecute`, the file where it writes the
        test cells' `observations`, and the kernel's extra `environment`."""
        self.config.Execute.timeout = box.limits.timeout
        self.config.GuardedExecute.notebook_timeout = box.limits.notebook_timeout
        self.config.GuardedExecute.max_output_bytes = box.limits.max_output_bytes
        self.config.GuardedExecute.guard = guard
        self.config.GuardedExecute.report_path = str(report)
        self.config.GuardedExecute.observations_path = str(observations or "")
        self.config.GuardedExecute.lib_dir = str(box.lib)
        for name, value in box.kernel_settings().items():
            setattr(self.config.SandboxedKernelManager, name, value)
        self.config.SandboxedKernelManager.kernel_environment = dict(environment)

    def path(self, step: str, chapter: str, extension: str = ".ipynb") -> Path:
        """The notebook of `chapter` in the folder of nbgrader's `step` (source, release, ...)."""
        student = () if step in ("source", "release") else (STUDENT,)
        return self.root.joinpath(step, *student, chapter, chapter + extension)

    def _run(self, converter: type, chapter: str, student: str) -> None:
        with (
            temp_attrs(self.coursedir, assignment_id=chapter, student_id=student),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings
            app = converter(coursedir=self.coursedir, config=self.config, log=LOG)
            app.force = True
            result = capture_log(app)
        log = result.get("log", "") + result.get("error", "")
        self.log += log
        if not result["success"]:
            raise NbgraderError(f"nbgrader {converter.__name__}: {_cause(log)}")

    def generate_assignment(self, solution: str | Path) -> NotebookNode:
        """Copies the source notebook `solution` in, records it in the gradebook and returns the
        student version that `nbgrader generate_assignment` writes."""
        chapter = Path(solution).stem
        self.path("source", chapter).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(solution, self.path("source", chapter))
        self._run(GenerateAssignment, chapter, ".")
        return notebooks.read(self.path("release", chapter))

    def autograde(self, chapter: str, submission: str | Path) -> NotebookNode:
        """Autogrades the notebook file `submission` for `chapter` (after `generate_assignment`)
        and returns the executed notebook. Kernels inherit this process's environment."""
        target = self.path("submitted", chapter)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission, target)
        self._run(Autograde, chapter, STUDENT)
        return notebooks.read(self.path("autograded", chapter))

    def generate_feedback(self, chapter: str) -> Path:
        """Writes the feedback HTML of the autograded `chapter` and returns its path."""
        self._run(GenerateFeedback, chapter, STUDENT)
        return self.path("feedback", chapter, ".html")

    def record_judgements(self, chapter: str, judgements: list[Judgement]) -> NotebookNode:
        """Writes the grader's verdicts on the test cells of the autograded `chapter` into its
        gradebook and notebook, before `generate_feedback`: a failed test scores 0 and shows its
        message as the cell's error (unless the cell already shows one); a passed one says so; a
        `restored` one earns its points although the cell failed in the notebook, and says why.
        Returns the autograded notebook."""
        verdicts = {j.grade_id: j for j in judgements}
        path = self.path("autograded", chapter)
        nb = notebooks.read(path)
        for cell in nb.cells:
            judgement = verdicts.get((cell.metadata.get("nbgrader") or {}).get("grade_id"))
            if judgement is not None and cell.cell_type == "code":
                _show(cell, judgement)
        notebooks.write(nb, path)
        with Gradebook(self.coursedir.db_url) as gradebook:
            submission = gradebook.find_submission_notebook(chapter, chapter, STUDENT)
            for grade in submission.grades:
                judgement = verdicts.get(grade.name)
                if judgement is not None and not judgement.passed:
                    grade.auto_score = 0.0
                elif judgement is not None and judgement.restored:
                    grade.auto_score = grade.max_score
            gradebook.db.commit()
        return nb

    def show_submitted_outputs(self, chapter: str, submitted: NotebookNode, max_chars: int) -> NotebookNode:
        """Shows the submitted notebook's own outputs in the autograded `chapter`'s ordinary code
        cells, before `generate_feedback` (`notebooks.show_submitted_outputs`); returns the notebook."""
        path = self.path("autograded", chapter)
        nb = notebooks.read(path)
        if notebooks.show_submitted_outputs(nb, submitted, max_chars):
            notebooks.write(nb, path)
        return nb

    def scores(self, chapter: str) -> dict[str, tuple[float | None, float]]:
        """`{grade_id: (auto_score, max_score)}` of the autograded submission, from the gradebook.
        `auto_score` is None for a written answer that waits for a human grader."""
        with Gradebook(self.coursedir.db_url) as gradebook:
            submission = gradebook.find_submission_notebook(chapter, chapter, STUDENT)
            return {grade.name: (grade.auto_score, grade.max_score) for grade in submission.grades}

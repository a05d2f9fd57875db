"""The results page shows the numbers that the benchmark scripts measured (benchmarks/results/*.json)."""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _variant(path: Path, chapter: str) -> str:
    """A variant of a chapter's benchmark, `NN_name_<variant>.json`, as its rows name it
    (`04_ssvae_no_augmentation.json`: "no augmentation"); "" for the chapter's main file."""
    return path.stem.removeprefix(chapter).strip("_").replace("_", " ")


def test_every_measured_number_is_on_the_results_page():
    page = (REPO / "book" / "results.md").read_text(encoding="utf-8")
    # The chapters' results tables (the grading benchmark's JSON has no chapter).
    results = sorted(
        p for p in (REPO / "benchmarks" / "results").glob("*.json") if "chapter" in json.loads(p.read_text())
    )
    assert results, "no measured results in benchmarks/results/"
    chapters = {p: json.loads(p.read_text())["chapter"] for p in results}
    variants = {_variant(p, chapter) for p, chapter in chapters.items()} - {""}
    for path in results:
        measured = json.loads(path.read_text())
        if isinstance(measured["results"], list):  # Chapter 3: one entry per model and test set
            _check_bound_table(page, path, measured)
            continue
        variant = _variant(path, chapters[path])
        for test_set, values in measured["results"].items():
            setting = test_set.split("), ", 1)[1].replace("=", " = ") if "), " in test_set else ""
            row = next(
                (
                    line
                    for line in page.splitlines()
                    if line.startswith("|")
                    and _short(test_set) in line
                    and setting in line
                    and _chapter_section(page, line, measured["chapter"])
                    and (variant in line if variant else not any(v in line for v in variants))
                ),
                None,
            )
            assert row is not None, f"{path.name}: no row for {test_set!r} in book/results.md"
            for key in ("nelbo", "niwae", "kl", "rec", "accuracy"):
                if key in values:
                    assert f"{values[key]:.1f}" in row, (
                        f"{path.name}: {key} {values[key]:.1f} is not in the row {row!r}"
                    )


def _check_bound_table(page: str, path: Path, measured: dict) -> None:
    """Rows of the IWAE table: model, test set, then -L_m for every m."""
    for entry in measured["results"]:
        row = next(
            (
                line
                for line in page.splitlines()
                if line.startswith(f"| {entry['model']} |") and _short(entry["data"]) in line
            ),
            None,
        )
        assert row is not None, f"{path.name}: no row for {entry['model']!r} on {entry['data']!r}"
        cells = [c.strip() for c in row.strip("|").split("|")][2:]
        assert cells == [f"{v:.1f}" for v in entry["niwae"].values()], (
            f"{path.name}: {row!r} disagrees with {entry['niwae']}"
        )


def _short(test_set: str) -> str:
    for name in ("coloured embedded MNIST test split", "embedded MNIST test split", "real MNIST test set"):
        if test_set.startswith(name):
            return name
    if test_set.startswith("MNIST test set"):  # the IWAE script's name for the real test set
        return "real MNIST test set"
    raise AssertionError(f"unknown test set {test_set!r}")


def _chapter_section(page: str, line: str, chapter: str) -> bool:
    """The row lies in the section of `chapter` (headings '## Chapter N')."""
    number = str(int(chapter.split("_")[0]))
    section = page[: page.index(line)].rsplit("\n## ", 1)[-1]
    return section.startswith(f"Chapter {number}")

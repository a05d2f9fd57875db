"""Every chapter ends with a bilingual summary and a self-check quiz whose answers are right.

The quiz lives on `book/NN_name/summary.md`, in a tab-set of the `lang` sync group (one English and
one Portuguese side). On each side, every question starts with a MyST comment (invisible on the
website) that holds its machine-readable part:

    % quiz: {"id": "ch1-kl-shifted-mean", "kind": "numeric", "answer": 0.5}
    % quiz: {"id": "ch1-beta-bound", "kind": "choice", "answer": "b"}

followed by the question, its options as `- (a) ...` list items for a multiple-choice question, and
a collapsed ```` ```{dropdown} ```` whose text opens with the answer in bold: `**0.5 nats.**`
(`**0,5 nat.**` on the Portuguese side, with a decimal comma) or `**(b).**`.

The tests check that the comment and the visible answer agree on each side, that both sides agree,
that every numeric answer equals a value recomputed here independently (with `torch.distributions`
or plain arithmetic, never with `vaelab`), rounded to the precision the page writes it with, and
that every multiple-choice question has exactly one key, one of its options.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
import yaml
from test_bilingual import parse, tab_sets
from torch.distributions import Bernoulli, Categorical, Chi2, Independent, MixtureSameFamily, Normal, kl_divergence

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = ("01_vae", "02_gmvae", "03_iwae", "04_ssvae", "05_fsvae")
COMMENT = re.compile(r"^% quiz: (?P<json>\{.*\})\s*$", re.M)
OPTION = re.compile(r"^- \((?P<key>[a-z])\) ", re.M)
DROPDOWN = re.compile(r"^```\{dropdown\}[^\n]*\n(?P<body>.*?)^```\s*$", re.S | re.M)
BOLD = re.compile(r"\*\*(?P<text>.+?)\*\*", re.S)
NUMBER = re.compile(r"[-−]?\d[\d.,]*")


def _f64(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64)


def _normal_mixture_1d(means, variances) -> MixtureSameFamily:
    """A uniform mixture of 1-D Gaussians (variances, not standard deviations)."""
    k = len(means)
    return MixtureSameFamily(
        Categorical(probs=torch.full((k,), 1.0 / k, dtype=torch.float64)), Normal(_f64(means), _f64(variances).sqrt())
    )


def _untrained_rec() -> float:
    """-log p(x | z) with all 784 logits 0: the same for any binary image (checked on two)."""
    pixels = Bernoulli(logits=torch.zeros(784, dtype=torch.float64))
    digit = torch.randint(0, 2, (784,), generator=torch.Generator().manual_seed(0)).double()
    values = [-pixels.log_prob(x).sum().item() for x in (torch.zeros(784, dtype=torch.float64), digit)]
    assert math.isclose(*values), values
    return values[0]


def _second_copy_row(batch: int = 3, copies: int = 5, image: int = 2) -> int:
    """Row of the second copy of `image` when a batch is stacked repetition-major (all rows, then again)."""
    stacked = torch.arange(batch).repeat(copies)  # [0, 1, 2, 0, 1, 2, ...], the order of torch.cat([x] * copies)
    return int(torch.nonzero(stacked == image)[1])


def _uniform_kl(probs) -> float:
    q = Categorical(probs=_f64(probs))
    return kl_divergence(q, Categorical(probs=torch.full_like(q.probs, 1.0 / q.probs.numel()))).item()


def _gaussian_rec_constant(d: int = 3072, variance: float = 0.1) -> float:
    """-log N(x; x, variance I) for a D-dimensional x: the reconstruction term of a perfect mean."""
    x = torch.rand(d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return -Normal(x, math.sqrt(variance)).log_prob(x).sum().item()


def _error_cost(variance: float) -> float:
    """Nats added to -log N(x; mean, variance) when one pixel's error goes from 0 to 1."""
    pixel = Normal(_f64(0.0), math.sqrt(variance))
    return (pixel.log_prob(_f64(0.0)) - pixel.log_prob(_f64(1.0))).item()


#: Every numeric answer of the quizzes, recomputed independently of the pages and of vaelab.
EXPECTED = {
    # chapter 1
    "ch1-kl-shifted-mean": lambda: kl_divergence(Normal(_f64(1.0), _f64(1.0)), Normal(_f64(0.0), _f64(1.0))).item(),
    "ch1-log-normal-origin": lambda: (
        Independent(Normal(torch.zeros(2, dtype=torch.float64), 1.0), 1)
        .log_prob(torch.zeros(2, dtype=torch.float64))
        .item()
    ),
    "ch1-rec-zero-logits": _untrained_rec,
    "ch1-bits-per-dim": lambda: 109.8 / (784 * math.log(2)),
    # chapter 2
    "ch2-two-component-mixture": lambda: _normal_mixture_1d([-1.0, 1.0], [1.0, 1.0]).log_prob(_f64(0.0)).item(),
    "ch2-dominant-component": lambda: (
        Normal(_f64(0.0), 1.0).log_prob(_f64(0.0)).item()
        - _normal_mixture_1d([0.0] + [1e3] * 499, [1.0] * 500).log_prob(_f64(0.0)).item()
    ),
    "ch2-initial-variance": lambda: torch.nn.functional.softplus(_f64(0.0)).item() + 1e-8,
    "ch2-entropy-noise": lambda: math.sqrt(Chi2(_f64(10.0)).variance.item() / 4),  # Var(-sum(eps^2) / 2)
    "ch2-sixteen-samples": lambda: 0.22 / math.sqrt(16),
    # chapter 3
    "ch3-duplicate-rows": lambda: torch.zeros(3, 784).repeat(5, 1).shape[0],
    "ch3-duplicate-row-index": _second_copy_row,
    "ch3-log-mean-exp": lambda: math.log((math.exp(-100.0) + math.exp(-100.0 + math.log(3))) / 2),
    "ch3-one-over-m": lambda: 0.9 / (1 / 10 - 1 / 100) * (1 / 100 - 1 / 1000),
    # chapter 4
    "ch4-kl-certain": lambda: _uniform_kl([1.0] + [0.0] * 9),
    "ch4-kl-two-classes": lambda: _uniform_kl([0.5, 0.5] + [0.0] * 8),
    "ch4-pairs": lambda: torch.eye(10).repeat_interleave(100, dim=0).shape[0],
    "ch4-optimal-classifier": lambda: torch.softmax(_f64([-100.0, -101.0]) + math.log(0.5), dim=0)[0].item(),
    "ch4-cross-entropy": lambda: -Categorical(probs=_f64([0.9] + [0.1 / 9] * 9)).log_prob(torch.tensor(0)).item(),
    # chapter 5
    "ch5-perfect-reconstruction": _gaussian_rec_constant,
    "ch5-error-weight": lambda: _error_cost(variance=0.1),
    "ch5-kl-price": lambda: 1 / _error_cost(variance=1.0),  # the KL's weight is 1 in nats
    "ch5-squared-error": lambda: (-560.4 - _gaussian_rec_constant()) / _error_cost(variance=0.1),
    "ch5-pixel-noise": lambda: Normal(_f64(0.5), math.sqrt(0.1)).stddev.item(),
}


def summary_path(chapter: str) -> Path:
    return REPO / "book" / chapter / "summary.md"


def parse_number(text: str, lang: str) -> tuple[float, int]:
    """(value, decimals) of the first number in `text`: decimal point in English, comma in Portuguese."""
    match = NUMBER.search(text)
    assert match, f"no number in the answer {text!r}"
    raw = match.group().replace("−", "-").rstrip(".,")
    thousands, decimal = (",", ".") if lang == "en" else (".", ",")
    raw = raw.replace(thousands, "").replace(decimal, ".")
    return float(raw), len(raw.partition(".")[2])


def questions(side: str, lang: str) -> list[dict]:
    """The questions of one language side of a quiz, in order: the comment's fields plus what is shown."""
    found = []
    starts = list(COMMENT.finditer(side))
    for i, start in enumerate(starts):
        chunk = side[start.end() : starts[i + 1].start() if i + 1 < len(starts) else len(side)]
        record = json.loads(start.group("json"))
        dropdowns = DROPDOWN.findall(chunk)
        assert len(dropdowns) == 1, f"{record.get('id')} ({lang}): {len(dropdowns)} answer dropdowns, expected 1"
        bold = BOLD.search(dropdowns[0])
        assert bold and dropdowns[0].lstrip().startswith("**"), (
            f"{record.get('id')} ({lang}): the answer must open in bold"
        )
        record["options"] = OPTION.findall(chunk.split("```{dropdown}")[0])
        record["shown"] = bold.group("text")
        found.append(record)
    return found


def quiz_sides(text: str) -> dict[str, list[dict]]:
    """{language: questions} of the page's quiz (the tab-set that holds `% quiz:` comments)."""
    blocks = [body for body in tab_sets(text) if COMMENT.search(body)]
    assert len(blocks) == 1, f"{len(blocks)} quiz blocks on the page, expected 1"
    return {lang: questions(side, lang) for lang, side in parse(blocks[0]).items()}


def problems_of(text: str, expected: dict = EXPECTED) -> list[str]:
    """Everything wrong with a page's quiz (an empty list when it is right)."""
    sides = quiz_sides(text)
    if set(sides) != {"en", "pt"}:
        return [f"quiz languages {sorted(sides)}, expected en and pt"]
    problems = []
    en, pt = sides["en"], sides["pt"]
    if [(q["id"], q["kind"]) for q in en] != [(q["id"], q["kind"]) for q in pt]:
        return ["the questions (ids and kinds) differ between English and Portuguese"]
    if not 6 <= len(en) <= 8:
        problems.append(f"{len(en)} questions, expected 6 to 8")
    if {q["kind"] for q in en} != {"numeric", "choice"}:
        problems.append(f"kinds {sorted({q['kind'] for q in en})}: expected a mix of numeric and choice questions")
    for q_en, q_pt in zip(en, pt):
        for lang, q in (("en", q_en), ("pt", q_pt)):
            problems += [f"{q['id']} ({lang}): {p}" for p in question_problems(q, lang, expected)]
        if q_en["answer"] != q_pt["answer"] or q_en["options"] != q_pt["options"]:
            problems.append(f"{q_en['id']}: the answer or the options differ between English and Portuguese")
    return problems


def question_problems(q: dict, lang: str, expected: dict) -> list[str]:
    if q["kind"] == "choice":
        key, options = q["answer"], q["options"]
        if not (isinstance(key, str) and len(key) == 1):
            return [f"needs exactly one answer key, got {key!r}"]
        if len(options) < 3 or len(set(options)) != len(options):
            return [f"options {options}: expected at least 3 distinct ones"]
        shown = re.match(r"\(([a-z])\)", q["shown"])
        problems = [] if key in options else [f"the key ({key}) is not one of the options {options}"]
        if not shown or shown.group(1) != key:
            problems.append(f"the answer shown, {q['shown']!r}, is not the key ({key})")
        return problems
    if q["kind"] != "numeric":
        return [f"unknown kind {q['kind']!r}"]
    if q["id"] not in expected:
        return ["no independent computation of this answer in tests/test_quiz.py"]
    value, decimals = parse_number(q["shown"], lang)
    truth = expected[q["id"]]()
    problems = []
    if not math.isclose(value, q["answer"], rel_tol=0, abs_tol=1e-12):
        problems.append(f"the answer shown, {value}, is not the comment's {q['answer']}")
    if abs(value - truth) > 0.5 * 10.0**-decimals + 1e-9:
        problems.append(f"the answer shown, {value}, is not {truth:.6g} rounded to {decimals} decimals")
    return problems


def test_every_chapter_ends_with_a_bilingual_summary_page_in_the_toc():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    parts = [[entry["file"] for entry in part.get("chapters", [])] for part in toc["parts"]]
    for chapter in CHAPTERS:
        page, notebook = f"book/{chapter}/summary", f"book/_generated/chapters/{chapter}"
        assert summary_path(chapter).is_file(), f"{page}.md is missing"
        files = next((files for files in parts if notebook in files), [])
        assert page in files, f"{page} is not in _toc.yml, in the part of the chapter's notebook"
        assert files[-1] == page and files.index(notebook) < files.index(page), (
            f"{page} should end its chapter's part of _toc.yml, after the notebook: {files}"
        )
        blocks = [parse(body) for body in tab_sets(summary_path(chapter).read_text(encoding="utf-8"))]
        assert len(blocks) >= 2 and all(set(tabs) == {"en", "pt"} for tabs in blocks), (
            f"{page}: every block needs an English and a Portuguese side (a summary and a quiz)"
        )
        bullets = [len(re.findall(r"^- \*\*", blocks[0][lang], re.M)) for lang in ("en", "pt")]
        assert all(8 <= n <= 12 for n in bullets), (
            f"{page}: the summary has {bullets} bullets (en, pt), expected 8 to 12"
        )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_quiz_answers_are_right_and_the_same_in_both_languages(chapter):
    problems = problems_of(summary_path(chapter).read_text(encoding="utf-8"))
    assert not problems, f"book/{chapter}/summary.md:\n" + "\n".join(problems)


def test_every_independent_computation_is_used():
    ids = {
        q["id"]
        for chapter in CHAPTERS
        if summary_path(chapter).is_file()
        for q in quiz_sides(summary_path(chapter).read_text(encoding="utf-8"))["en"]
        if q["kind"] == "numeric"
    }
    assert set(EXPECTED) == ids, f"computed but not asked: {sorted(set(EXPECTED) - ids)}"


def _sample_quiz(en_answer: str = "0.5", pt_answer: str = "0,5", comment: str = "0.5", keys=("b", "b")) -> str:
    """A small quiz page: three numeric questions (the first one's answers given) and three choice ones."""

    def side(lang: str, title: str, number: str, key: str) -> str:
        numeric = [(comment, number), ("2", "2"), ("3", "3")]
        parts = [f":::{{tab-item}} {title}\n:sync: {lang}\n"]
        for i, (value, shown) in enumerate(numeric):
            parts.append(
                f'% quiz: {{"id": "t-{i}", "kind": "numeric", "answer": {value}}}\n\n**{i}.** Q?\n\n'
                f"```{{dropdown}} A\n**{shown} nats.** Why.\n```\n"
            )
        for i in range(3):
            record = json.dumps({"id": f"c-{i}", "kind": "choice", "answer": key if i == 0 else "b"})
            parts.append(
                f"% quiz: {record}\n\n"
                f"**{i}.** Q?\n\n- (a) x\n- (b) y\n- (c) z\n\n```{{dropdown}} A\n**(b).** Why.\n```\n"
            )
        return "\n".join(parts) + ":::\n"

    return (
        "::::{tab-set}\n:sync-group: lang\n\n"
        + side("en", "English", en_answer, keys[0])
        + "\n"
        + side("pt", "Português", pt_answer, keys[1])
        + "::::\n"
    )


SAMPLE_EXPECTED = {"t-0": lambda: 0.5, "t-1": lambda: 2.0, "t-2": lambda: 3.0}


def test_a_changed_answer_is_caught():
    assert problems_of(_sample_quiz(), SAMPLE_EXPECTED) == []
    wrong_en = problems_of(_sample_quiz(en_answer="0.6"), SAMPLE_EXPECTED)
    assert any("t-0 (en)" in p and "rounded" in p for p in wrong_en), wrong_en
    wrong_pt = problems_of(_sample_quiz(pt_answer="0,6"), SAMPLE_EXPECTED)
    assert any("t-0 (pt)" in p for p in wrong_pt), wrong_pt
    agreed_but_wrong = problems_of(_sample_quiz("0.6", "0,6", "0.6"), SAMPLE_EXPECTED)
    assert any("rounded" in p for p in agreed_but_wrong), agreed_but_wrong
    off_in_the_last_digit = problems_of(_sample_quiz("0.49", "0,49", "0.49"), SAMPLE_EXPECTED)
    assert any("rounded to 2 decimals" in p for p in off_in_the_last_digit), off_in_the_last_digit
    assert problems_of(_sample_quiz(keys=("b", "a")), SAMPLE_EXPECTED), "a different key in Portuguese went unnoticed"
    two_keys = problems_of(_sample_quiz(keys=(["a", "b"], ["a", "b"])), SAMPLE_EXPECTED)
    assert any("exactly one answer key" in p for p in two_keys), two_keys
    not_an_option = problems_of(_sample_quiz(keys=("e", "e")), SAMPLE_EXPECTED)
    assert any("not one of the options" in p for p in not_an_option), not_an_option
    unchecked = problems_of(_sample_quiz(), {"t-0": lambda: 0.5})
    assert any("no independent computation" in p for p in unchecked), unchecked


def test_numbers_are_read_in_each_language():
    assert parse_number("0.202 bits per dimension.", "en") == (0.202, 3)
    assert parse_number("0,202 bit por dimensão.", "pt") == (0.202, 3)
    assert parse_number("−713,8 nats.", "pt") == (-713.8, 1)
    assert parse_number("1,000 pairs.", "en") == (1000.0, 0)
    assert parse_number("1.000 pares.", "pt") == (1000.0, 0)

"""The posterior-collapse and exact-likelihood pages: their numbers are the benchmarks' JSON, their
figures exist, the two benchmark scripts run, and the toy model's closed forms match quadrature."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
import torch
from test_bilingual import REPO, parse, tab_sets

RESULTS = REPO / "benchmarks" / "results"


def script(name: str):
    """A benchmark script as a module (the benchmarks are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def languages(page: str) -> dict[str, str]:
    """{"en": all English tabs, "pt": all Portuguese tabs} of a book page."""
    text = (REPO / "book" / page).read_text(encoding="utf-8")
    tabs = [parse(body) for body in tab_sets(text)]
    return {lang: "\n".join(t.get(lang, "") for t in tabs) for lang in ("en", "pt")}


def localised(number: str, lang: str) -> str:
    return number.replace(".", ",") if lang == "pt" else number


def assert_quoted(text: dict[str, str], number: str, what: str) -> None:
    """`number` on the English side, and with a decimal comma on the Portuguese side (`0,5` in prose,
    `0{,}5` in mathematics)."""
    for lang in ("en", "pt"):
        forms = {localised(number, lang), number.replace(".", "{,}") if lang == "pt" else number}
        assert any(re.search(rf"(?<![\d.,]){re.escape(form)}(?![\d])", text[lang]) for form in forms), (
            f"{what} = {localised(number, lang)} is not on the {lang} side of the page"
        )


# --------------------------------------------------------------------------------------------
# The pages quote the JSON
# --------------------------------------------------------------------------------------------


def test_collapse_page_shows_every_run():
    measured = json.loads((RESULTS / "collapse.json").read_text())
    text = languages("collapse.md")
    labels = {
        "elbo": ("ELBO", "ELBO"),
        "free_bits": ("free bits", "*free bits*"),
        "annealing": ("annealing", "*annealing*"),
    }
    assert len(measured["runs"]) >= 4
    for run in measured["runs"]:
        for lang, label in zip(("en", "pt"), labels[run["method"]]):
            row = next(
                (line for line in text[lang].splitlines() if line.startswith(f"| {run['z_dim']} | {label}")), None
            )
            assert row is not None, f"no {lang} row for z = {run['z_dim']}, {run['method']}"
            cells = [c.strip() for c in row.strip("|").split("|")]
            expected = [localised(f"{run[k]:.1f}", lang) for k in ("nelbo", "kl", "rec")]
            assert cells[2:5] == expected, f"{lang} row {row!r}: expected {expected}"
            of = "of" if lang == "en" else "de"
            assert cells[5] == f"{run['active_units']} {of} {run['z_dim']}", f"{lang} row {row!r}: active units"
    assert_quoted(text, f"{measured['free_bits']}", "lambda")
    runs = {(r["z_dim"], r["method"]): r for r in measured["runs"]}
    small, large, rescued = runs[10, "elbo"], runs[32, "elbo"], runs[32, "free_bits"]
    off = sorted(large["kl_per_dimension"])[: large["z_dim"] - large["active_units"]]
    held = [v for v in rescued["kl_per_dimension"] if v < 2 * measured["free_bits"]]
    for number, what in [
        (f"{min(small['kl_per_dimension']):.2f}", "smallest KL, Z = 10"),
        (f"{max(small['kl_per_dimension']):.2f}", "largest KL, Z = 10"),
        (f"{sum(off):.2f}", "KL of the collapsed dimensions"),
        (f"{sorted(large['activity'])[len(off) - 1]:.4f}", "largest activity of a collapsed one"),
        (f"{small['nelbo'] - large['nelbo']:.1f}", "NELBO gain of Z = 32"),
        (f"{min(held):.2f}", "free bits: smallest KL"),
        (f"{max(held):.2f}", "free bits: largest held KL"),
        (f"{rescued['kl'] - large['kl']:.1f}", "KL increase"),
        (f"{large['rec'] - rescued['rec']:.1f}", "Rec drop"),
    ]:
        assert_quoted(text, number, what)
    assert f"the other {len(held)} hold" in text["en"]


def _toy_numbers(measured: dict) -> list[tuple[str, str]]:
    wide, mf = measured["q"]["wide"], measured["q"]["mean-field"]
    last = len(wide["iwae"]["m"]) - 1
    numbers = [
        (f"{abs(measured['model']['posterior_corr']):.2f}", "posterior correlation"),
        (f"{abs(wide['elbo']['log_px']):.3f}", "log p(x)"),
        (f"{wide['chi2']:.3f}", "chi2"),
        (f"{wide['chi2'] / 2:.3f}", "chi2 / 2"),
        (f"{wide['iwae']['m'][last] * wide['iwae']['gap'][last]:.3f}", "m gap at the largest m"),
        (f"{wide['iwae']['gap'][last]:.5f}", "wide gap at the largest m"),
        (f"{mf['iwae']['gap'][last]:.4f}", "mean-field gap at the largest m"),
        (f"{mf['iwae']['gap_se'][last]:.4f}", "its standard error"),
        (f"{round(wide['elbo']['kl_q_posterior'] / mf['elbo']['kl_q_posterior'])} times", "ELBO gap ratio"),
        (f"{round(mf['iwae']['gap'][last] / wide['iwae']['gap'][last])} times", "IWAE gap ratio"),
        (f"$n = {wide['finite_moments_up_to']}$", "finite moments"),
    ]
    for q in (wide, mf):
        numbers += [
            (f"{q['elbo']['kl_q_posterior']:.3f}", "KL(q || p(z|x))"),
            (f"{q['elbo']['gap_mc']:.3f}", "MC gap"),
            (f"{q['fit']['exponent']:.3f}", "fitted exponent"),
            (f"{q['fit']['c']:.3f}", "fitted c"),
            (f"{q['kl']['nelbo_variance_analytic_kl']:.2f}", "NELBO variance, analytic KL"),
            (f"{q['kl']['nelbo_variance_mc_kl']:.2f}", "NELBO variance, MC KL"),
        ]
    kl = wide["kl"]
    numbers += [
        (f"{kl['kl_analytic']:.3f}", "analytic KL"),
        (f"{kl['kl_mc_mean']:.4f}", "MC KL mean"),
        (f"{kl['kl_mc_mean_se']:.4f}", "its standard error"),
        (f"{kl['kl_mc_variance']:.3f}", "MC KL variance"),
        (f"{kl['kl_mc_variance_exact']:.3f}", "exact variance"),
        (f"{math.sqrt(kl['kl_mc_variance']):.2f}", "MC KL standard deviation"),
        (f"{(kl['kl_mc_mean'] - kl['kl_analytic']) / kl['kl_mc_mean_se']:.1f}", "z-score of the MC KL mean"),
    ]
    return numbers


def test_toy_page_quotes_the_measured_numbers():
    measured = json.loads((RESULTS / "toy_exact.json").read_text())
    text = languages("toy_model.md")
    for number, what in _toy_numbers(measured):
        if number.endswith(" times"):  # "6 times" / "seis vezes" is prose: check the English side only
            assert number in text["en"], f"{what}: {number!r} is not on the English side"
        else:
            assert_quoted(text, number, what)


@pytest.mark.parametrize("page,benchmark", [("collapse.md", "collapse.json"), ("toy_model.md", "toy_exact.json")])
def test_pages_show_the_figures_their_benchmark_wrote(page, benchmark):
    text = (REPO / "book" / page).read_text(encoding="utf-8")
    shown = set(re.findall(r"\{figure\} (extra_figures/[\w.]+\.svg)", text))
    assert shown, f"{page} shows no figure"
    written = {Path(p).name for p in json.loads((RESULTS / benchmark).read_text())["figures"]}
    for figure in shown:
        assert Path(figure).name in written, f"{page} shows {figure}, which {benchmark} did not write"
        assert (REPO / "book" / figure).stat().st_size > 1000
        assert text.count(f"{{figure}} {figure}") == 2, f"{figure}: one caption per language"


# --------------------------------------------------------------------------------------------
# The benchmark scripts run (tiny arguments)
# --------------------------------------------------------------------------------------------


def test_collapse_benchmark_smoke(tmp_path):
    out = tmp_path / "collapse.json"
    assert (
        script("collapse").main(
            ["--steps", "5", "--z-dims", "2", "3", "--json", str(out), "--figures", str(tmp_path / "figs")]
        )
        == 0
    )
    measured = json.loads(out.read_text())
    assert [(r["z_dim"], r["method"]) for r in measured["runs"]] == [
        (2, "elbo"),
        (2, "free_bits"),
        (3, "elbo"),
        (3, "free_bits"),
    ]
    for r in measured["runs"]:
        assert 0 <= r["active_units"] <= r["z_dim"] and len(r["kl_per_dimension"]) == r["z_dim"]
        # vaelab.latent's KL per dimension and vaelab.evaluate's KL: two code paths, one number.
        assert sum(r["kl_per_dimension"]) == pytest.approx(r["kl"], abs=0.01 + 1e-4 * r["z_dim"])
        assert r["nelbo"] == pytest.approx(r["kl"] + r["rec"], abs=0.02)
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "collapse_kl_z2.svg",
        "collapse_kl_z3.svg",
        "collapse_traversal_z3_elbo.svg",
        "collapse_traversal_z3_free_bits.svg",
    ]


def test_toy_benchmark_smoke(tmp_path):
    out = tmp_path / "toy.json"
    assert (
        script("toy_exact").main(
            [
                "--samples",
                "20000",
                "--replicates",
                "50",
                "--max-m",
                "20",
                "--json",
                str(out),
                "--figures",
                str(tmp_path),
            ]
        )
        == 0
    )
    measured = json.loads(out.read_text())
    for q in measured["q"].values():
        elbo = q["elbo"]
        assert abs(elbo["gap_mc"] - elbo["kl_q_posterior"]) < 5 * elbo["elbo_mc_se"], (
            "log p(x) - ELBO != KL(q || p(z|x))"
        )
        assert q["iwae"]["m"] == [1, 2, 3, 5, 10, 20] and all(g > 0 for g in q["iwae"]["gap"])
    assert len(list(tmp_path.glob("*.svg"))) == 3


# --------------------------------------------------------------------------------------------
# The toy model's closed forms against numerical integration
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy():
    module = script("toy_exact")
    with module.float64():  # the toy's computations, and only they, in double precision
        model = module.build_model(seed=0)
        x = torch.tensor([0.3, -1.0, 0.8, 0.1], dtype=torch.float64)
        side = torch.linspace(-7, 7, 701, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(side, side, indexing="ij"), -1).reshape(-1, 2)
        cell = ((side[1] - side[0]) ** 2).item()
        yield module, model, x, grid, cell


def test_toy_evidence_and_posterior_match_quadrature(toy):
    module, model, x, grid, cell = toy
    post = module.exact(model, x)
    log_joint = module.log_joint(model, x, grid)
    log_px = torch.logsumexp(log_joint, 0) + math.log(cell)  # integral of p(x, z) over z
    assert post["log_px"].item() == pytest.approx(log_px.item(), abs=1e-6)
    weights = torch.softmax(log_joint, 0)[:, None]
    mean = (weights * grid).sum(0)
    cov = (weights * (grid - mean)).T @ (grid - mean)
    assert torch.allclose(post["mu"], mean, atol=1e-6) and torch.allclose(post["S"], cov, atol=1e-6)


def test_toy_chi_square_and_moments_match_quadrature(toy):
    module, model, x, grid, cell = toy
    post = module.exact(model, x)
    qs = module.encoders(post)
    log_p = torch.distributions.MultivariateNormal(post["mu"], post["S"]).log_prob(grid)
    wide = qs["wide"]
    log_q = wide.log_prob(grid).sum(-1)
    chi2 = (torch.exp(2 * log_p - log_q).sum() * cell).item() - 1
    assert module.chi_square(wide, post["mu"], post["S"]) == pytest.approx(chi2, rel=1e-5)
    assert module.moment_finite(wide, post["S"], 2) and not module.moment_finite(qs["mean-field"], post["S"], 2)
    assert module.chi_square(qs["mean-field"], post["mu"], post["S"]) == math.inf
    kl = module.gaussian_kl(wide, post["mu"], post["S"])
    assert kl == pytest.approx((torch.exp(log_q) * (log_q - log_p)).sum().item() * cell, rel=1e-5)

"""The numeric tolerance that nbval uses to compare notebook outputs (see conftest.py)."""

from conftest import NBVAL_ATOL, NBVAL_RTOL, numbers_match


def test_numbers_within_the_tolerance_match():
    assert numbers_match("| this VAE | 151.2 | 12.0 | 139.2 |", "| this VAE | 150.1 | 12.3 | 138.0 |")
    assert numbers_match("loss 0.2", "loss 0.6")  # absolute tolerance for small numbers


def test_numbers_outside_the_tolerance_or_different_text_do_not_match():
    assert not numbers_match("NELBO 160.0", "NELBO 150.0")
    assert not numbers_match("NELBO 150.0", "NIWAE 150.0")
    assert not numbers_match("a 1 b 2", "a 1 b 2 c 3")
    assert NBVAL_RTOL <= 0.05 and NBVAL_ATOL <= 0.5  # the tolerance stated in the README

"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    # columns of x.t() are the images; repeating the columns rep times and
    # transposing back gives x, x, ..., x stacked along the rows
    return x.t().repeat(1, rep).t()

"""Issue 30 #5: every figure the README quotes agrees with benchmarks/RESULTS.md, where the scripts write them.

RESULTS.md's sections are written by the benchmark scripts (``--update-results``); the README quotes them, rounded.
Each quoted figure is tied here to the RESULTS cell it comes from: whole README tables by their header (row and
column names mapped to the section's), and figures in the text by a pattern around them. A README figure that
differs from its cell, once the cell is rounded to the README's decimals (half up), fails; so does a quoted
table row or a pattern the mapping no longer finds, so a figure cannot drop out of the check unnoticed.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def section(results: str, name: str) -> str:
    match = re.search(rf"<!-- {re.escape(name)}:start -->(.*?)<!-- {re.escape(name)}:end -->", results, re.S)
    assert match, f"RESULTS.md has no section {name!r}"
    return match.group(1)


def tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every markdown table of ``text``: (the heading above it, header cells, rows of cells)."""
    found, heading, lines = [], "", text.splitlines()
    n = 0
    while n < len(lines):
        line = lines[n].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and n + 1 < len(lines) and lines[n + 1].strip().startswith("|---"):
            header = _cells(line)
            rows, n = [], n + 2
            while n < len(lines) and lines[n].strip().startswith("|"):
                rows.append(_cells(lines[n]))
                n += 1
            found.append((heading, header, rows))
            continue
        n += 1
    return found


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def results_cell(results: str, name: str, row: str | None, column: str, heading: str = "") -> str:
    """The cell (row, column) of a table in section ``name`` (under a heading starting ``heading``); with
    ``row=None``, the figure that follows the words ``column`` in the section's prose."""
    if row is None:
        match = re.search(re.escape(column) + r"\s+\**(-?\d+\.\d+)", section(results, name))
        assert match, f"RESULTS.md section {name!r} has no figure after {column!r}"
        return match.group(1)
    for table_heading, header, rows in tables(section(results, name)):
        if table_heading.startswith(heading) and column in header:
            for cells in rows:
                if cells[0] == row:
                    return cells[header.index(column)]
    raise AssertionError(f"RESULTS.md section {name!r}: no cell ({row!r}, {column!r}) under {heading!r}")


def agrees(quoted: str, measured: str) -> bool:
    """Whether ``quoted`` (README) is ``measured`` (RESULTS) rounded half up to the quoted decimals."""
    quoted, measured = quoted.replace("*", "").replace(",", ""), measured.replace("*", "").replace(",", "")
    q, m = NUMBER.search(quoted), NUMBER.search(measured)
    if not q or not m:
        return False
    decimals = len(q.group().split(".")[1]) if "." in q.group() else 0
    step = Decimal(1).scaleb(-decimals)
    return Decimal(m.group()).quantize(step, rounding=ROUND_HALF_UP) == Decimal(q.group())


def readme_table(readme: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    for _, header, rows in tables(readme):
        if header[0].startswith(first_header):
            return header, rows
    raise AssertionError(f"README has no table whose first header cell starts with {first_header!r}")


# --- what the README quotes, and where each figure comes from ---------------------------------------------------

ACCURACY_ROWS = {
    "mfrec `bayesian`": "mfrec bayesian",
    "mfrec `bayesian`, time effects (test dates given)": "mfrec bayesian, time effects (test dates given)",
    "myFM SVD++ flipped (rank 10, 200 sweeps), as shipped: lists by predicted rating": "myFM SVD++ flipped",
    "myFM MF (rank 10, 200 sweeps), as shipped: lists by predicted rating": "myFM MF",
    "mfrec `svdpp`": "mfrec svdpp",
    "mfrec `sgd`": "mfrec sgd",
    "mfrec `als`": "mfrec als",
    "mfrec `adam`": "mfrec adam",
    "Surprise SVD, tuned (best of 16 on u1..u5), as shipped: lists by predicted rating": "surprise-svd, tuned",
    "Surprise SVD, defaults, as shipped: lists by predicted rating": "surprise-svd",
    "mfrec `baseline` (user + item biases)": "mfrec baseline",
    "mfrec `nmf`": "mfrec nmf",
    "Surprise NMF, as shipped: lists by predicted rating": "surprise-nmf",
    "mfrec `svd` (mean-imputed)": "mfrec svd",
    "popularity": "mfrec popularity",
}
ACCURACY_COLUMNS = {
    "RMSE u1..u5 (selection)": "RMSE u1..u5 (selection)",
    "RMSE ua/ub": "RMSE ua, ub",
    "RMSE time-ordered": "RMSE temporal 80/20",
    "NDCG@10 u1..u5 (selection)": "NDCG@10 u1..u5 (selection)",
    "NDCG@10 ua/ub": "NDCG@10 ua, ub",
    "NDCG@10 time-ordered": "NDCG@10 temporal 80/20",
}
# README ranking table: row -> (table heading in the "ranking" section, column for the rating models, column for
# popularity and implicit-als, which have one ranking only, and the RESULTS row to read it from: the model's own
# row, or in the cold-start table any model's row, which all repeat the popularity list's score).
_FOLDS, _TIME, _COLD = "ML-100k folds", "Time-ordered", "Cold-start"
_DEFAULT = "NDCG@10 default (pick x like)"
RANKING_ROWS = {
    "ml-100k folds u1–u5, by rating (before)": (_FOLDS, "NDCG@10 by rating (before)", (_DEFAULT, None)),
    "ml-100k folds u1–u5, pick × like (now)": (_FOLDS, _DEFAULT, None),
    "earliest 80% by time → rest, by rating": (_TIME, "NDCG@10 by rating (before)", ("NDCG@10 default", None)),
    "earliest 80% by time → rest, pick × like": (_TIME, "NDCG@10 default", None),
    "cold start (200 new users), fold-in from 5 ratings, by rating": (
        _COLD, "fold-in @5 by rating", ("popularity @5", "sgd")
    ),
    "cold start, fold-in from 5 ratings, pick × like": (_COLD, "fold-in @5 default", None),
    "cold start, fold-in from 10 ratings, by rating": (_COLD, "fold-in @10 by rating", ("popularity @10", "sgd")),
    "cold start, fold-in from 10 ratings, pick × like": (_COLD, "fold-in @10 default", None),
}  # fmt: skip
_MFREC_ALS_TUNED = "mfrec implicit-als (n_factors 64, regularization 30, alpha 2, n_epochs 30)"
_IMPLICIT_ALS_TUNED = "implicit ALS (factors 32, regularization 10, alpha 1, iterations 30)"
_MFREC_BPR_TUNED = "mfrec bpr (learning_rate 0.03, regularization 0.015, n_factors 128)"
_IMPLICIT_BPR_TUNED = "implicit BPR (learning_rate 0.01, regularization 0.01, factors 128)"
# Figures in the text: (pattern with one group per figure, then for each group (section, row, column, heading)).
_SPEED = "speed-5m"
INLINE = [
    (
        r"SGD (\d\.\d+)× LibMF's\s+`mf-train` \(bar 1\.8×, [^;]*; (\d\.\d+)× on wall at this load; [^)]*\), BPR "
        r"(\d\.\d+)× `implicit`'s BPR \(bar 3×,\s+met\), implicit ALS (\d\.\d+)× `implicit` "
        r"\(bar 2×, met\), explicit ALS (\d\.\d+)× cmfrec",
        [
            (_SPEED, "LibMF mf-train / mfrec sgd", "ratio, CPU [range]", ""),
            (_SPEED, "LibMF mf-train / mfrec sgd", "ratio, wall: median of per-round ratios [range]", ""),
            (
                _SPEED,
                "implicit BPR (its sampler, whole catalogue) / mfrec bpr (whole-catalogue negatives)",
                "ratio, CPU [range]",
                "",
            ),
            (_SPEED, "implicit ALS-CG (3 steps), binary / mfrec implicit-als (CG, 3 steps)", "ratio, CPU [range]", ""),
            (_SPEED, "cmfrec ALS-CG, 2 steps / mfrec als (defaults: CG, 2 steps)", "ratio, CPU [range]", ""),
        ],
    ),
    (
        r"reaches (\d\.\d+) against mfrec's (\d\.\d+), and on ua/ub, which no choice was made on, the two are level\s+"
        r"\((\d\.\d+) vs (\d\.\d+)\); BPR tuned: (\d\.\d+) vs (\d\.\d+) \(ua/ub (\d\.\d+) vs (\d\.\d+)\)",
        [
            ("implicit", _IMPLICIT_ALS_TUNED, "NDCG@10 u1..u5", ""),
            ("implicit", _MFREC_ALS_TUNED, "NDCG@10 u1..u5", ""),
            ("implicit", _IMPLICIT_ALS_TUNED, "NDCG@10 ua/ub", ""),
            ("implicit", _MFREC_ALS_TUNED, "NDCG@10 ua/ub", ""),
            ("implicit", _IMPLICIT_BPR_TUNED, "NDCG@10 u1..u5", ""),
            ("implicit", _MFREC_BPR_TUNED, "NDCG@10 u1..u5", ""),
            ("implicit", _IMPLICIT_BPR_TUNED, "NDCG@10 ua/ub", ""),
            ("implicit", _MFREC_BPR_TUNED, "NDCG@10 ua/ub", ""),
        ],
    ),
    (
        r"default lists score NDCG@10\s+(\d\.\d+) against \*\*(\d\.\d+) for plain popularity\*\*",
        [("scale-bars", None, "NDCG@10 sgd", ""), ("scale-bars", None, "**popularity", "")],
    ),
    (
        r"--model implicit-als --json +# NDCG@10 (\d\.\d+)",
        [("implicit", "mfrec implicit-als", "NDCG@10 u1..u5", "")],
    ),
    (
        r"NDCG@10 with defaults is (\d\.\d+) for `implicit-als` and (\d\.\d+) for `bpr`,\s+against (\d\.\d+) for "
        r"popularity and (\d\.\d+) / (\d\.\d+) for the `implicit` library's ALS / BPR defaults",
        [
            ("implicit", "mfrec implicit-als", "NDCG@10 u1..u5", ""),
            ("implicit", "mfrec bpr", "NDCG@10 u1..u5", ""),
            ("implicit", "mfrec popularity", "NDCG@10 u1..u5", ""),
            ("implicit", "implicit ALS", "NDCG@10 u1..u5", ""),
            ("implicit", "implicit BPR", "NDCG@10 u1..u5", ""),
        ],
    ),
]


# README speed table column (its start) -> the bench_speed.py section's column; rows are the section's engine or
# pair names, as printed.
SPEED_COLUMNS = {
    "ratio, wall": "ratio, wall: median of per-round ratios [range]",
    "ratio, CPU": "ratio, CPU [range]",
    "CPU s / epoch": "CPU s / epoch, median [range]",
    "s / epoch": "s / epoch, median [range]",
}


def speed_rows(readme: str, results: str) -> list[str]:
    """The README's speed table against the one-harness section it names in its header."""
    problems = []
    for _, header, rows in tables(readme):
        match = re.match(r"`python benchmarks/bench_speed\.py.*` \(RESULTS: ([\w-]+)\)", header[0])
        if not match:
            continue
        name = match.group(1)
        for cells in rows:
            for column, quoted in zip(header[1:], cells[1:]):
                if NUMBER.search(quoted) is None:
                    continue
                source = next((full for short, full in SPEED_COLUMNS.items() if column.startswith(short)), None)
                assert source, f"README speed column {column!r} is not mapped to RESULTS (SPEED_COLUMNS)"
                measured = results_cell(results, name, cells[0], source)
                if not agrees(quoted, measured):
                    problems.append(f"speed {cells[0]!r} {column!r}: README {quoted}, RESULTS {measured}")
    return problems


def mismatches(readme: str, results: str) -> list[str]:
    problems = []
    header, rows = readme_table(readme, "`python benchmarks/bench_accuracy.py`")
    for cells in rows:
        assert cells[0] in ACCURACY_ROWS, f"README accuracy row {cells[0]!r} is not mapped to RESULTS (ACCURACY_ROWS)"
        for column, quoted in zip(header[1:], cells[1:]):
            measured = results_cell(results, "accuracy", ACCURACY_ROWS[cells[0]], ACCURACY_COLUMNS[column])
            if not agrees(quoted, measured):
                problems.append(f"accuracy {cells[0]!r} {column!r}: README {quoted}, RESULTS {measured}")
    header, rows = readme_table(readme, "NDCG@10 (mfrec's metric)")
    for cells in rows:
        assert cells[0] in RANKING_ROWS, f"README ranking row {cells[0]!r} is not mapped to RESULTS (RANKING_ROWS)"
        heading, column, single = RANKING_ROWS[cells[0]]
        for model, quoted in zip(header[1:], cells[1:]):
            if not quoted:
                continue
            which, row = (column, model) if model not in ("popularity", "implicit-als") else single
            measured = results_cell(results, "ranking", row or model, which, heading)
            if not agrees(quoted, measured):
                problems.append(f"ranking {cells[0]!r} {model}: README {quoted}, RESULTS {measured}")
    for pattern, sources in INLINE:
        match = re.search(pattern, readme)
        assert match, f"README no longer reads {pattern!r}: update INLINE with the new wording"
        for quoted, (name, row, column, heading) in zip(match.groups(), sources):
            measured = results_cell(results, name, row, column, heading)
            if not agrees(quoted, measured):
                problems.append(f"text {match.group(0)[:40]!r}: README {quoted}, RESULTS {measured} ({row})")
    return problems + speed_rows(readme, results)


def _texts() -> tuple[str, str]:
    return (ROOT / "README.md").read_text(), (ROOT / "benchmarks" / "RESULTS.md").read_text()


def test_readme_figures_agree_with_results():
    problems = mismatches(*_texts())
    assert not problems, "README figures that RESULTS.md does not back:\n" + "\n".join(problems)


def test_a_changed_figure_on_either_side_is_caught():
    readme, results = _texts()
    changed_results = re.sub(r"\| mfrec sgd \| 0\.\d+ \|", "| mfrec sgd | 0.9999 |", results, count=1)
    assert changed_results != results
    assert any("'mfrec `sgd`'" in p for p in mismatches(readme, changed_results))
    changed_readme = readme.replace("# NDCG@10 0.388", "# NDCG@10 0.398", 1)
    assert changed_readme != readme
    assert any("0.398" in p for p in mismatches(changed_readme, results))
    assert agrees("0.415", "0.4145") and agrees("**0.24**", "0.242") and not agrees("0.42", "0.4149")

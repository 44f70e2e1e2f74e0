"""The bench's figures: named by what they measure, in modules that say so, in the report."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

from bench.catalogue import BY_NAME, CATALOGUE, FORMER_CODES, ROW_ORDER, figure_for
from bench.report import table
from bench.runner import FIGURES

ROOT = Path(__file__).resolve().parent.parent


def test_every_figure_the_runner_runs_is_in_the_catalogue_with_a_module_that_imports():
    assert set(FIGURES) == set(BY_NAME)
    for figure in CATALOGUE:
        assert importlib.util.find_spec(figure.module) is not None, figure.module


def test_every_figure_is_a_name_and_its_module_names_it_in_its_docstring():
    for figure in CATALOGUE:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", figure.name), figure.name
        docstring = importlib.import_module(figure.module).__doc__ or ""
        assert figure.name in docstring.split("\n\n")[0], (figure.name, figure.module)


def test_a_former_code_still_selects_its_figure():
    assert set(FORMER_CODES.values()) <= set(ROW_ORDER)
    assert figure_for("11") == "long-scan-parallel"
    # The page-number rows are printed by the cursor figure, which --only runs for them.
    assert figure_for("3b") == figure_for("audit-api-counted-pages") == "audit-api-pages"
    assert figure_for("search") == "search"


def saved_row(figure: str, case: str) -> dict:
    return {
        "figure": figure,
        "backend": "sqlite",
        "case": case,
        "p50": None,
        "p95": None,
        "unit": "",
        "value": None,
        "value_label": "",
        "target": "",
        "ok": None,
        "note": "",
    }


def test_rows_saved_under_former_codes_are_shown_by_name_in_the_catalogues_order():
    rendered = table([saved_row("12", "last"), saved_row("3b", "second"), saved_row("1", "first")])
    figures = [line.split(" | ")[0].strip("| ") for line in rendered.splitlines()[2:]]
    assert figures == ["record-event-link", "audit-api-counted-pages", "pdf-size"]


def test_list_names_every_figure_and_only_takes_names_or_former_codes():
    listed = subprocess.run(
        [sys.executable, "bench/bench.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [line.split()[0] for line in listed.splitlines()] == [f.name for f in CATALOGUE]
    refused = subprocess.run(
        [sys.executable, "bench/bench.py", "--only", "search,13"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "unknown figures 13" in refused.stderr

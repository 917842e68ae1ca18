"""docs/benchmarks.md: a benchmark's run replaces its own section and keeps the others."""

from pathlib import Path

import pytest

from tests.bench import report


def test_a_run_replaces_its_section_and_keeps_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "DOCUMENT", tmp_path / "benchmarks.md")
    report.write_section("decode", "<!-- bench:decode -->first decode<!-- /bench:decode -->")
    report.write_section("search", "<!-- bench:search -->search<!-- /bench:search -->")
    report.write_section("decode", "<!-- bench:decode -->second decode<!-- /bench:decode -->")

    document = report.DOCUMENT.read_text()
    assert document.startswith(report.HEADER)
    assert "second decode" in document
    assert "first decode" not in document
    assert document.index("second decode") < document.index("search")


def test_a_section_names_the_benchmark_its_run_and_what_it_printed() -> None:
    stamp = report.Stamp(report.datetime.datetime(2026, 12, 7, 15, 0), 12.0, 0.4, "python -m tests.bench.decode", 1)
    text = report.section("decode", stamp, "vtest  120 fps\n")

    assert text.startswith("<!-- bench:decode -->\n## decode\n\nDecode-only throughput")
    assert "2026-12-07 15:00 UTC" in text
    assert "`python -m tests.bench.decode`, 12 s, **exit status 1**" in text
    assert "```text\nvtest  120 fps\n```" in text

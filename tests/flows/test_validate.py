"""Every validator error, each from a broken copy of the shipped flows, reported with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.library import SHIPPED, FlowLibrary, load_library
from flows.loader import FlowError


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace text and return the 1-based line where the replacement starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def only_error(library: FlowLibrary, fragment: str) -> FlowError:
    matching = [e for e in library.errors if fragment in e.message]
    assert matching, f"no error containing {fragment!r}: {library.errors}"
    return matching[0]


def test_the_shipped_flows_are_valid() -> None:
    library = load_library()
    assert library.errors == []
    assert sorted(library.flows) == ["health", "investment_linked", "participating", "traditional", "universal"]


def test_unknown_topic(library_dir: Path) -> None:
    line = edit(library_dir / "modules/core.yaml", "topic: read_documents", "topic: read_everything")
    library = load_library(library_dir)
    error = only_error(library, "unknown topic 'read_everything'")
    assert (error.file, error.line) == ("modules/core.yaml", line)
    assert library.flows == {}  # every flow uses core: none may be used for a call


def test_missing_prompt(library_dir: Path) -> None:
    line = edit(library_dir / "modules/closing.yaml", "    ask: 请问您对业务人员的服务是否满意？", "    ask: ''")
    error = only_error(load_library(library_dir), "missing prompt text")
    assert (error.file, error.line) == ("modules/closing.yaml", line)


def test_unknown_placeholder(library_dir: Path) -> None:
    edit(library_dir / "modules/introduction.yaml", "{product_name}", "{product_title}")
    error = only_error(load_library(library_dir), "unknown placeholder {product_title}")
    assert error.file == "modules/introduction.yaml"
    assert error.line == 5


def test_policy_facts_before_identity(library_dir: Path) -> None:
    edit(library_dir / "modules/opening.yaml", "本人吗？", "本人吗？您的{product_name}已承保。")
    error = only_error(load_library(library_dir), "speaks {product_name} before the identity check")
    assert error.file == "modules/opening.yaml"


def test_question_before_identity(library_dir: Path) -> None:
    for name in ("traditional", "participating", "universal", "investment_linked", "health"):
        edit(library_dir / f"{name}.yaml", "  - opening\n  - identity\n", "  - opening\n  - core\n  - identity\n")
    library = load_library(library_dir)
    assert only_error(library, "asks about the policy before the identity check").file == "modules/core.yaml"


def test_unreachable_step(library_dir: Path) -> None:
    line = edit(library_dir / "modules/participating.yaml", "  - id: dividend_uncertainty\n",
                "  - id: dividend_uncertainty\n    when: {product_type: universal}\n")
    error = only_error(load_library(library_dir), "can never run in flow 'participating'")
    assert (error.file, error.line) == ("modules/participating.yaml", line)
    assert "outside applies_to.product_types" in error.message


def test_unknown_condition_fact(library_dir: Path) -> None:
    edit(library_dir / "modules/elderly.yaml", "applicant_age:", "applicant_years:")
    assert "unknown fact 'applicant_years'" in only_error(load_library(library_dir), "unknown fact").message


def test_dangling_module_reference(library_dir: Path) -> None:
    line = edit(library_dir / "health.yaml", "  - health\n", "  - health_module\n")
    library = load_library(library_dir)
    error = only_error(library, "uses module 'health_module', which no file defines")
    assert (error.file, error.line) == ("health.yaml", line)
    assert "health" not in library.flows
    assert "traditional" in library.flows


def test_duplicate_step_id(library_dir: Path) -> None:
    edit(library_dir / "modules/closing.yaml", "id: goodbye", "id: satisfaction")
    assert only_error(load_library(library_dir), "repeats the id of").file == "modules/closing.yaml"


def test_topic_asked_twice(library_dir: Path) -> None:
    edit(library_dir / "modules/closing.yaml", "topic: satisfaction", "topic: read_documents")
    error = only_error(load_library(library_dir), "asks topic read_documents again")
    assert error.file == "modules/closing.yaml"


def test_explanation_missing(library_dir: Path) -> None:
    edit(library_dir / "modules/closing.yaml", "    on_no: record\n", "")
    assert only_error(load_library(library_dir), "on_no is explain but the step has no explanation")


def test_required_topic_missing(library_dir: Path) -> None:
    edit(library_dir / "universal.yaml", "  - risk_statement\n", "")
    error = only_error(load_library(library_dir), "never asks the required topic risk_statement_self_copied")
    assert error.file == "universal.yaml"


def test_bad_end_reason(library_dir: Path) -> None:
    edit(library_dir / "modules/core.yaml", "{end: not_received}", "{end: vanished}")
    assert only_error(load_library(library_dir), "on_no end reason must be one of")


def test_unknown_key(library_dir: Path) -> None:
    line = edit(library_dir / "modules/health.yaml", "    topic: health_waiting_period\n",
                "    topic: health_waiting_period\n    promt: x\n")
    error = only_error(load_library(library_dir), "unknown key 'promt' in a step")
    assert error.line == line + 1


def test_yaml_syntax_error(library_dir: Path) -> None:
    (library_dir / "modules/broken.yaml").write_text("module: broken\nsteps:\n  - id: [oops\n", encoding="utf-8")
    error = only_error(load_library(library_dir), "YAML syntax")
    assert error.file == "modules/broken.yaml"
    assert error.line >= 3


def test_messages_must_be_complete_and_public(library_dir: Path) -> None:
    edit(library_dir / "messages.zh-CN.yaml", "  reask: 请问您现在清楚了吗？\n", "")
    edit(library_dir / "messages.zh-CN.yaml", "无法核实您的身份", "无法核实{product_name}的身份")
    library = load_library(library_dir)
    assert only_error(library, "missing message 'reask'")
    assert only_error(library, "{product_name} may be heard before the identity check")
    assert library.flows == {}


def test_version_required(library_dir: Path) -> None:
    edit(library_dir / "traditional.yaml", "version: 1", "version: first")
    library = load_library(library_dir)
    assert only_error(library, "version must be a whole number").file == "traditional.yaml"
    assert "traditional" not in library.flows

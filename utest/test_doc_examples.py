"""Every example in the keyword documentation runs, against a live server.

The examples are read the way users read them: from libdoc
(``LibraryDocumentation("SMTPMockLibrary")``: the introduction, the importing
section and every keyword). Each preformatted block of ``|`` lines is an
example, run as a Robot Framework suite in one child ``robot`` process:

- a keyword's example is a test named after the keyword, whose set-up starts
  a server and fills it with the standard mailbox (sent by the application in
  another process), with ``${msg}`` set to Alice's welcome mail;
- an introduction example without sections is a test whose set-up starts an
  empty server, as after the common pattern the introduction recommends;
- an example with ``***** Settings *****``-style headers is a whole suite: the
  headers become ``***``, link backticks go, and the harness resource is
  imported so that the application placeholders exist. A first line
  ``# dir/__init__.robot`` makes it a suite directory's init file;
- rows such as ``Test Setup    X`` are settings of the example's suite.

The placeholders (``Sign Up``, ``Send Newsletter``...) and the set-up are in
``atest/resources/doc_examples.resource``; the application is
``doc_examples_app.py`` beside it; its links point at a small web server this
test runs, so link checks request real pages.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from robot.api import ExecutionResult
from robot.libdoc import LibraryDocumentation
from robot.utils import html_format

HARNESS = (
    Path(__file__).resolve().parent.parent / "atest/resources/doc_examples.resource"
)
DISTRIBUTION = "robotframework-smtpmocklibrary"

_SECTION = re.compile(r"^\*{3,}\s*(.*?)\s*\*{3,}\s*$")
_TEST_SECTION = re.compile(r"^(test cases?|tasks?)$", re.IGNORECASE)
_HEADING = re.compile(r"^(=+)\s+(\S.*?)\s+\1$")
_REFERENCE_TABLE_ROW = re.compile(r"^\| (.* |)\|$")  # what libdoc renders as a table
_TABLE_CELL_SEPARATOR = re.compile(r" \|(?= )")
_LINK = re.compile(r"`([^`]+)`")
_SEPARATOR = re.compile(r"\s{2,}|\t")
_FILE_COMMENT = re.compile(r"^#\s*(\S+\.robot)\s*$")
_MISSING_EXTRA = re.compile(
    rf"pip install {re.escape(DISTRIBUTION)}\[(\w+)\]", re.IGNORECASE
)
SUITE_SETTINGS = {
    "library",
    "resource",
    "variables",
    "suite setup",
    "suite teardown",
    "test setup",
    "test teardown",
    "test timeout",
    "test tags",
    "default tags",
    "keyword tags",
    "metadata",
    "documentation",
}
KEYWORD_SET_UP = "Start Server With Standard Mailbox"
INTRODUCTION_SET_UP = "Start Server And Configure Application"
SETTINGS_ONLY_TEST_BODY = "Application Mail Should Arrive"
HARNESS_IMPORT_IGNORED = "has already imported library 'SMTPMockLibrary' with different"


@dataclass
class Example:
    """One example table: whose docs it is in, and its rows as written."""

    owner: str  # the keyword's name, "Importing" or "Introduction: <section>"
    rows: list[str]
    keyword: bool = True  # a keyword's or the importing section's example
    deprecated: bool = False  # its keyword is deprecated: it may warn so

    @property
    def whole_suite(self) -> bool:
        return any(_SECTION.match(row.strip()) for row in self.rows)

    def settings_rows(self) -> list[str]:
        return [row for row in self.rows if _is_setting(row)]

    def body_rows(self) -> list[str]:
        return [row for row in self.rows if row.strip() and not _is_setting(row)]


@dataclass
class Failure:
    owner: str
    where: str  # "row 4: Should Be Equal    ..." or "set-up: ..."
    message: str

    def __str__(self) -> str:
        return f"- {self.owner}, {self.where}\n    {self.message}"


@dataclass
class Run:
    failures: list[Failure] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # failures this Python explains
    tests: int = 0
    log: Path | None = None
    console: str = ""


def _cells(row: str) -> list[str]:
    return [cell for cell in _SEPARATOR.split(row.strip()) if cell]


def _is_setting(row: str) -> bool:
    cells = _cells(row)
    return (
        bool(cells) and not row.startswith(" ") and cells[0].lower() in SUITE_SETTINGS
    )


# Reading the docs.


def example_tables(doc: str) -> list[tuple[str, list[str]]]:
    """The ``(section, rows)`` of each example block in a libdoc doc string.

    An example block is what libdoc renders preformatted: consecutive lines
    starting with ``| `` (or a lone ``|``) that are not reference-table rows
    (those end with `` |``). Rows lose the ``| `` and their link backticks.
    """
    tables: list[tuple[str, list[str]]] = []
    section = ""
    block: list[str] | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        heading = _HEADING.match(stripped)
        if heading:
            section = heading.group(2)
        preformatted = stripped.startswith("| ") or stripped == "|"
        if preformatted and not _REFERENCE_TABLE_ROW.match(stripped):
            if block is None:
                block = []
                tables.append((section, block))
            block.append(_LINK.sub(r"\1", stripped[2:]))
        else:
            block = None
    for _, rows in tables:
        while rows and not rows[-1].strip():
            rows.pop()
    return tables


def reference_tables(doc: str) -> list[list[str]]:
    """The rows of each table (``| a | b |`` lines) in a libdoc doc string."""
    tables: list[list[str]] = []
    previous_was_row = False
    for line in doc.splitlines():
        row = _REFERENCE_TABLE_ROW.match(line.strip()) is not None
        if row and not previous_was_row:
            tables.append([])
        if row:
            tables[-1].append(line.strip())
        previous_was_row = row
    return tables


def table_cells(row: str) -> list[str]:
    """The cells of a reference-table row, split as libdoc splits them."""
    return [cell.strip() for cell in _TABLE_CELL_SEPARATOR.split(row[1:-1])]


def examples_of(owner: str, doc: str, keyword: bool = True) -> list[Example]:
    examples = []
    tables = example_tables(doc)
    for index, (section, rows) in enumerate(tables, start=1):
        name = owner if keyword else f"{owner}: {section or 'introduction'}"
        if len(tables) > 1 and keyword:
            name = f"{owner} ({index})" if index > 1 else owner
        examples.append(Example(name, rows, keyword))
    if not keyword:  # several tables in one section: number them
        seen: dict[str, int] = {}
        for example in examples:
            seen[example.owner] = seen.get(example.owner, 0) + 1
            if seen[example.owner] > 1:
                example.owner = f"{example.owner} ({seen[example.owner]})"
    return examples


def library_examples(library: LibraryDocumentation) -> list[Example]:
    examples = examples_of("Introduction", library.doc, keyword=False)
    for init in library.inits:
        examples += examples_of("Importing", init.doc)
    for keyword in library.keywords:
        for example in examples_of(keyword.name, keyword.doc):
            example.deprecated = keyword.deprecated
            examples.append(example)
    return examples


# Writing the examples as suites.


def _indent(rows: Iterable[str]) -> list[str]:
    return [f"    {row.strip()}" for row in rows]


def fragment_suite(example: Example) -> str:
    """A suite with one test, named after the example's owner, running its rows."""
    settings = example.settings_rows()
    given = {_cells(row)[0].lower() for row in settings}
    set_up = KEYWORD_SET_UP if example.keyword else INTRODUCTION_SET_UP
    lines = ["*** Settings ***", f"Name    {example.owner}", *settings]
    lines.append(f"Resource    {HARNESS}")
    if "test setup" not in given:
        lines.append(f"Test Setup    {set_up}")
    elif "suite setup" not in given:
        lines.append(f"Suite Setup    {set_up}")
    body = example.body_rows() or [SETTINGS_ONLY_TEST_BODY]
    lines += ["", "*** Test Cases ***", example.owner, *_indent(body)]
    return "\n".join(lines) + "\n"


def whole_suite(example: Example, init_file: bool = False) -> str:
    """The example as a suite file: ``***`` headers, the harness imported,
    and a test when it has none (an init file gets its test in a child suite)."""
    lines = []
    for row in example.rows:
        header = _SECTION.match(row.strip())
        lines.append(f"*** {header.group(1)} ***" if header else row)
    sections = [i for i, line in enumerate(lines) if _SECTION.match(line)]
    names = [lines[i].strip("* ").lower() for i in sections]
    settings = [i for i in sections if lines[i].lower().startswith("*** setting")]
    import_line = f"Resource    {HARNESS}"
    if settings:
        # After the example's own imports, so that its Library arguments win.
        ends = [i for i in sections if i > settings[0]]
        lines.insert(ends[0] if ends else len(lines), import_line)
    else:
        lines[:0] = ["*** Settings ***", import_line, ""]
    if not init_file and not any(_TEST_SECTION.match(name) for name in names):
        lines += [
            "",
            "*** Test Cases ***",
            example.owner,
            f"    {SETTINGS_ONLY_TEST_BODY}",
        ]
    return "\n".join(lines) + "\n"


def write_suites(examples: list[Example], directory: Path) -> dict[Path, Example]:
    """Writes one suite (or suite directory) per example; returns each file's example."""
    written: dict[Path, Example] = {}
    for number, example in enumerate(examples, start=1):
        folder = directory / f"{number:03d}"
        folder.mkdir(parents=True)
        if not example.whole_suite:
            path = folder / "example.robot"
            path.write_text(fragment_suite(example), encoding="utf-8")
            written[path] = example
            continue
        named = _FILE_COMMENT.match(example.rows[0].strip())
        path = folder / (named.group(1) if named else "example.robot")
        path.parent.mkdir(parents=True, exist_ok=True)
        init_file = path.name == "__init__.robot"
        path.write_text(whole_suite(example, init_file), encoding="utf-8")
        written[path] = example
        if init_file:  # an init file's settings apply to the suites below it
            child = path.parent / "child.robot"
            child.write_text(
                "\n".join(
                    [
                        "*** Settings ***",
                        f"Resource    {HARNESS}",
                        "",
                        "*** Test Cases ***",
                        example.owner,
                        f"    {SETTINGS_ONLY_TEST_BODY}",
                        "",
                    ]
                ),
                encoding="utf-8",
            )
            written[child] = example
    return written


# Running them and reading the result.


def run_examples(examples: list[Example], directory: Path, app_url: str) -> Run:
    """Runs every example in one child ``robot`` process; what failed, and where."""
    suites = directory / "suites"
    written = write_suites(examples, suites)
    output = directory / "output.xml"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--name",
            "Doc Examples",
            "--outputdir",
            str(directory),
            "--output",
            str(output),
            "--report",
            "NONE",
            "--variable",
            f"APP_URL:{app_url}",
            "--console",
            "dotted",
            "--consolecolors",
            "off",
            str(suites),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    run = Run(log=directory / "log.html", console=completed.stdout + completed.stderr)
    if not output.exists():
        run.failures.append(Failure("all examples", "robot", run.console))
        return run
    result = ExecutionResult(str(output))
    ran: set[int] = set()
    for test in result.suite.all_tests:
        example = written.get(Path(test.parent.source or ""))
        if example is None:
            continue
        run.tests += 1
        ran.add(id(example))
        if not test.passed:
            failure = _failure(example, test)
            extra = _unavailable_extra(failure.message)
            if extra:
                run.accepted.append(
                    f"{failure} (the [{extra}] extra: not on this Python)"
                )
            else:
                run.failures.append(failure)
    for example in examples:
        if id(example) not in ran:
            run.failures.append(Failure(example.owner, "no test ran", run.console))
    run.failures += _unexpected_warnings(result.errors.messages, written, examples)
    return run


def _failure(example: Example, test: Any) -> Failure:
    if test.setup and test.setup.failed:
        return Failure(example.owner, f"set-up '{test.setup.name}'", test.message)
    for step in test.body:
        if getattr(step, "failed", False):
            return Failure(example.owner, _locate(example, step), test.message)
    if test.teardown and test.teardown.failed:
        return Failure(example.owner, _locate(example, test.teardown), test.message)
    return Failure(example.owner, f"test '{test.name}'", test.message)


def _locate(example: Example, step: Any) -> str:
    """The example row of a failed step, as the docs show it."""
    if getattr(step, "type", "") not in ("KEYWORD", "SETUP", "TEARDOWN"):
        return f"a {step.type} block"
    prefix = ["[Teardown]"] if step.type == "TEARDOWN" else []
    cells = [*prefix, *step.assign, step.name, *step.args]
    wanted = [_normalized(cell) for cell in cells]
    for number, row in enumerate(example.rows, start=1):
        if [_normalized(cell) for cell in _cells(row)] == wanted:
            return f"row {number}: {row.strip()}"
    return "step: " + "    ".join(cells)


def _normalized(cell: str) -> str:
    return re.sub(r"\s*=$", "", cell.strip()).lower()


def _unavailable_extra(message: str) -> str | None:
    """The extra a failure asks for, when no requirement of it fits this Python.

    Such an example cannot run here by design (pymap needs Python 3.11): its
    documented error is the expected outcome. An extra that fits this Python
    but is missing is a failure, never a skip.
    """
    match = _MISSING_EXTRA.search(message)
    if not match:
        return None
    extra = match.group(1)
    markers = [
        requirement.marker
        for requirement in map(
            Requirement, importlib.metadata.requires(DISTRIBUTION) or []
        )
        if requirement.marker is not None and f'"{extra}"' in str(requirement.marker)
    ]
    fitting = [marker for marker in markers if marker.evaluate({"extra": extra})]
    return extra if markers and not fitting else None


def _unexpected_warnings(
    messages: Iterable, written: dict[Path, Example], examples: list[Example]
) -> list[Failure]:
    """Warnings and errors of the run, except a deprecated keyword's own warning
    and the harness's library import giving way to an example's own."""
    deprecated = {example.owner for example in examples if example.deprecated}
    failures = []
    for message in messages:
        text = message.message
        if HARNESS_IMPORT_IGNORED in text and str(HARNESS) in text:
            continue
        if any(
            f"'SMTPMockLibrary.{name}' is deprecated" in text for name in deprecated
        ):
            continue
        owner = next(
            (example.owner for path, example in written.items() if str(path) in text),
            "the run",
        )
        failures.append(Failure(owner, message.level, text))
    return failures


# The shop's web pages, which the links in its mail point at.


class _ShopPages(BaseHTTPRequestHandler):
    """Every page answers 200, except reset links (expired: 410) and unknown ones."""

    PAGES = {
        "/confirm": (200, "Thank you, your address is confirmed."),
        "/reset": (410, "This link has expired."),
        "/help": (200, "How can we help?"),
        "/teas": (200, "Our autumn teas."),
        "/unsubscribe": (200, "You will get no more newsletters."),
    }

    def do_GET(self) -> None:
        status, text = self.PAGES.get(self.path.split("?")[0], (404, "Not found."))
        body = f"<html><body><p>{text}</p></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    pages = ThreadingHTTPServer(("127.0.0.1", 0), _ShopPages)
    thread = threading.Thread(target=pages.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{pages.server_address[1]}"
    finally:
        pages.shutdown()
        pages.server_close()


@pytest.fixture(scope="module")
def library() -> LibraryDocumentation:
    return LibraryDocumentation("SMTPMockLibrary")


def _report(run: Run) -> str:
    return (
        f"{len(run.failures)} documentation example(s) failed "
        f"(log: {run.log}):\n" + "\n".join(str(f) for f in run.failures)
    )


# The tests.


def test_every_example_in_the_docs_runs(
    library: LibraryDocumentation, shop_url: str, tmp_path: Path
) -> None:
    examples = library_examples(library)
    run = run_examples(examples, tmp_path, shop_url)
    assert not run.failures, _report(run)
    assert run.tests >= len(examples)
    for accepted in run.accepted:
        print(accepted)


def test_every_keyword_has_an_example(library: LibraryDocumentation) -> None:
    without = [kw.name for kw in library.keywords if not example_tables(kw.doc)]
    assert not without, f"Keywords without an example: {', '.join(without)}"


def test_short_docs_show_no_backticks_in_the_log(library: LibraryDocumentation) -> None:
    # log.html formats a keyword's short doc without libdoc's `links`.
    shown = {kw.name: html_format(kw.short_doc) for kw in library.keywords}
    literal = [f"{name}: {html}" for name, html in shown.items() if "`" in html]
    assert not literal, "Short docs with literal backticks:\n" + "\n".join(literal)


def test_reference_table_rows_have_every_cell(library: LibraryDocumentation) -> None:
    docs = [library.doc, *(i.doc for i in library.inits)]
    docs += [kw.doc for kw in library.keywords]
    ragged = [
        row
        for doc in docs
        for table in reference_tables(doc)
        for row in table
        if len(table_cells(row)) != len(table_cells(table[0]))
    ]
    assert not ragged, "Table rows with a missing ' | ':\n" + "\n".join(ragged)


BROKEN_DOCS = {
    # The bug this test exists for: ${list}[0].attr is the item and the text ".attr".
    "Broken Keyword": """Returns what Alice received.

| ${mails} =    Get Received Messages    recipient=alice@example.com
| Should Be Equal    ${mails}[0].subject    Welcome, Alice!
""",
    "Fixed Keyword": """Returns what Alice received.

| ${mails} =    Get Received Messages    recipient=alice@example.com
| Should Be Equal    ${mails[0].subject}    Welcome, Alice!
""",
    "Misspelt Keyword": """A keyword that does not exist.

| Wait Until Mesage Is Received    recipient=bob@example.com
""",
}
BROKEN_INTRODUCTION = """= Quick start =

| ***** Settings *****
| Library    SMTPMockLibrary
|
| ***** Test Cases *****
| Newsletter Goes To Bob
|     `Start Mock SMTP Server`
|     Send Newsletter    alice@example.com
|     `Wait Until Message Is Received`    recipient=bob@example.com    timeout=0.2 s
|     [Teardown]    `Stop Mock SMTP Server`

| Test Setup    `Reset Mock SMTP Server`
| Test Teardown    `No Such Keyword`

= Settings =

| ***** Settings *****
| Library    SMTPMockLibrary
| Suite Setup    `Start Mock SMTP Server`
| Test Setupp    `Reset Mock SMTP Server`
"""


def test_a_broken_example_fails_naming_its_keyword_and_row(
    shop_url: str, tmp_path: Path
) -> None:
    examples = examples_of("Introduction", BROKEN_INTRODUCTION, keyword=False)
    for owner, doc in BROKEN_DOCS.items():
        examples += examples_of(owner, doc)
    run = run_examples(examples, tmp_path, shop_url)
    failed = {failure.owner: failure for failure in run.failures}
    assert set(failed) == {
        "Broken Keyword",
        "Misspelt Keyword",
        "Introduction: Quick start",
        "Introduction: Quick start (2)",
        "Introduction: Settings",
    }, _report(run)
    assert failed["Broken Keyword"].where == (
        "row 2: Should Be Equal    ${mails}[0].subject    Welcome, Alice!"
    )
    assert "'Welcome, Alice!'>.subject != Welcome, Alice!" in (
        failed["Broken Keyword"].message
    )
    assert failed["Misspelt Keyword"].where.startswith("row 1: Wait Until Mesage")
    assert "No keyword with name 'Wait Until Mesage Is Received'" in (
        failed["Misspelt Keyword"].message
    )
    quick_start = failed["Introduction: Quick start"]
    assert quick_start.where == (
        "row 8: Wait Until Message Is Received    recipient=bob@example.com    "
        "timeout=0.2 s"
    )
    assert "recipient=bob@example.com" in quick_start.message
    assert "No Such Keyword" in failed["Introduction: Quick start (2)"].message
    # Its test passes, but Robot found an error in the suite: the example fails.
    settings = [f for f in run.failures if f.owner == "Introduction: Settings"]
    assert [f.where for f in settings] == ["ERROR"], _report(run)
    assert "Non-existing setting 'Test Setupp'" in settings[0].message
    assert run.tests == len(examples)

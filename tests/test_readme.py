"""The README is executed: every ```python block and every `mfrec ...` line of the shell blocks, as printed.

Blocks run in document order, in one temporary working folder that has ``../shared/data`` (a link to
the MovieLens folder, also ``$MFREC_DATA``) beside it, as the repository root has. Python blocks
share one namespace; shell lines run ``mfrec`` as ``python -m mfrec`` through bash, so anything
the line does around it (pipes, ``&&``) runs too. Other shell lines (pip, venv) are not run.

A block that must not run here (it downloads, or takes minutes) is preceded by the marker

    <!-- not-tested: why, in a few words -->

Use it sparingly: heavy commands belong in benchmarks/, and every skip has to say why. A command
that does not return by itself (``mfrec serve``) needs the marker too, or a block that starts it in
the background and stops it (``mfrec serve ... & pid=$!; ...; kill $pid`` on one line).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, require_ml100k

README = REPO_ROOT / "README.md"
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_SKIP = re.compile(r"^\s*<!--\s*not-tested:(.*?)-->\s*$")
_STEP_SECONDS = 120  # a README step taking longer than this belongs in benchmarks/


@dataclass
class Block:
    language: str
    line: int  # 1-based line of the first code line
    code: str
    skip: str | None  # the marker's reason, or None when the block runs


def readme_blocks(text: str) -> list[Block]:
    """Fenced code blocks in document order, with the ``not-tested`` reason of the line before each, if any."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, language = opening.group(2), opening.group(3).lower()
        before = next((lines[j] for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        marker = _SKIP.match(before)
        if marker and not marker.group(1).strip():
            raise ValueError(f"README.md:{index}: a not-tested marker must say why")
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence[:3]):
            end += 1
        indent = len(opening.group(1))
        code = "\n".join(line[indent:] for line in lines[index + 1 : end])
        blocks.append(Block(language, index + 2, code, marker.group(1).strip() if marker else None))
        index = end + 1
    return blocks


def mfrec_lines(block: Block) -> list[tuple[int, str]]:
    """(README line, command) for each line of a shell block that runs ``mfrec``; continuations joined."""
    commands: list[tuple[int, str]] = []
    pending, first = "", 0
    for offset, raw in enumerate(block.code.splitlines()):
        line = raw.rstrip()
        if block.language == "console":
            if not line.startswith("$ ") and not pending:
                continue  # output shown after a command
            line = line.removeprefix("$ ")
        if not pending:
            first = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command, pending = (pending + line).strip(), ""
        if command and shlex.split(command, comments=True)[:1] == ["mfrec"]:
            commands.append((first, command))
    return commands


def steps(blocks: list[Block]) -> list[tuple[str, int, str]]:
    """What the README test runs, in order: ("python", line, code) or ("shell", line, command)."""
    out: list[tuple[str, int, str]] = []
    for block in blocks:
        if block.skip is not None:
            continue
        if block.language in ("python", "py", "python3"):
            out.append(("python", block.line, block.code))
        elif block.language in SHELL_LANGUAGES:
            out += [("shell", line, command) for line, command in mfrec_lines(block)]
    return out


# ------------------------------------------------------------------ the extractor itself


def test_extractor_reads_blocks_markers_and_mfrec_lines():
    text = "\n".join(
        [  # noqa: FLY002 - one README line per item reads best
            "intro",
            "```python",
            "x = 1",
            "```",
            "",
            "<!-- not-tested: downloads 250 MB -->",
            "",
            "```bash",
            "mfrec datasets download ml-25m",
            "```",
            "```console",
            "$ mfrec train a \\",
            "    --epochs 2   # short",
            "saved ...",
            "$ pip install x",
            "```",
            "```bash",
            "python3 -m venv .venv && .venv/bin/pip install .",
            "mfrec report run | head -3",
            "```",
        ]
    )
    blocks = readme_blocks(text)
    assert [(b.language, b.line, b.skip) for b in blocks] == [
        ("python", 3, None),
        ("bash", 9, "downloads 250 MB"),
        ("console", 12, None),
        ("bash", 18, None),
    ]
    assert steps(blocks) == [
        ("python", 3, "x = 1"),
        ("shell", 12, "mfrec train a      --epochs 2   # short"),
        ("shell", 19, "mfrec report run | head -3"),
    ]
    with pytest.raises(ValueError, match="must say why"):
        readme_blocks("<!-- not-tested: -->\n```bash\nmfrec demo\n```")


def test_readme_skips_are_few_and_say_why():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    skipped = [b for b in blocks if b.skip is not None]
    assert all(len(b.skip) >= 10 for b in skipped), [b.skip for b in skipped]
    assert len(skipped) <= max(2, len(blocks) // 4), "heavy commands belong in benchmarks/, not README blocks"
    assert any(kind == "python" for kind, _, _ in steps(blocks)) and any(
        kind == "shell" for kind, _, _ in steps(blocks)
    )


def test_readme_images_exist():
    text = README.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    missing = [image for image in images if "://" not in image and not (REPO_ROOT / image).is_file()]
    assert not missing, f"README shows images that are not in the repository: {missing}"


# ------------------------------------------------------------------ the README, run


@pytest.fixture
def readme_workdir(tmp_path, monkeypatch):
    """A working folder with ../shared/data beside it (a link to the real data), as the repository root has."""
    data_root = require_ml100k().parent
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(data_root.resolve(), target_is_directory=True)
    work = tmp_path / "repo"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MFREC_DATA", str(tmp_path / "shared" / "data"))
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path / "cache"))  # nothing from the user's cache, nothing left there
    return work


def _run_shell(command: str, line: int, work: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    script = f'set -eo pipefail\nmfrec() {{ "{sys.executable}" -m mfrec "$@"; }}\n{command}\n'
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=_STEP_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"README.md:{line}: `{command}` ran past {_STEP_SECONDS} s; move it to benchmarks/ or mark its "
            "block <!-- not-tested: reason -->",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"README.md:{line}: `{command}` exited {result.returncode}\n{result.stdout[-2000:]}\n"
            f"{result.stderr[-3000:]}",
            pytrace=False,
        )


def test_readme_runs_as_printed(readme_workdir, capsys):
    namespace: dict = {"__name__": "__readme__"}
    timings = []
    for kind, line, code in steps(readme_blocks(README.read_text(encoding="utf-8"))):
        start = time.perf_counter()
        cpu = _cpu_seconds()
        if kind == "python":
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - running the README is the test
            except Exception as exc:  # name the README line, keep the traceback for the details
                raise AssertionError(
                    f"README.md python block at line {line} failed: {type(exc).__name__}: {exc}"
                ) from exc
        else:
            _run_shell(code, line, readme_workdir)
        timings.append((time.perf_counter() - start, _cpu_seconds() - cpu, line))
    with capsys.disabled():  # where the time goes, to keep the README's examples quick
        each = ", ".join(f"{line}: {wall:.1f}/{cpu:.1f}" for wall, cpu, line in timings)
        print(
            f"\nREADME: {len(timings)} steps, {sum(t[0] for t in timings):.1f} s wall, "
            f"{sum(t[1] for t in timings):.1f} s CPU (README line: wall/CPU seconds  {each})"
        )


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the mfrec subprocesses)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

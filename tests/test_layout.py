"""The README's layout names what the tree holds, and no module of the package outgrows a room."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "gst_flows"
MAX_LINES = 600


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


TOP = ("gst_flows/", "launchers/", "scripts/", "benchmarks/", "examples/", "docs/")


def _entries() -> list[tuple[str, str]]:
    """(first column, description) per entry; indented lines continue the previous description."""
    entries: list[tuple[str, str]] = []
    for line in _layout_block().splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + " " + line.strip())
        else:
            first, _, rest = line.partition("  ")
            entries.append((first.strip(), rest.strip()))
    return entries


def test_every_path_the_layout_names_exists():
    missing = []
    for first, description in _entries():
        paths = re.findall(r"[\w./]+(?:\.py|/)", first)
        # later paths of the first column are relative to the first one's directory
        for path in paths:
            where = ROOT / path if path.startswith(TOP) else ROOT / Path(paths[0]).parent / path
            if not where.exists():
                missing.append(path)
        # the description of one package names its modules and subpackages
        if len(paths) == 1 and paths[0].startswith("gst_flows/") and paths[0].endswith("/"):
            for name in re.findall(r"(?<![\w/])([a-z_0-9]+(?:\.py|/))", description):
                if not (ROOT / paths[0] / name).exists():
                    missing.append(paths[0] + name)
    assert not missing, f"README layout names paths that do not exist: {missing}"


def test_the_layout_names_every_part_of_the_package():
    block = _layout_block()
    parts = [p for p in PACKAGE.iterdir() if p.name != "__init__.py" and not p.name.startswith((".", "_"))]
    unnamed = [
        p.name
        for p in parts
        if (p.is_dir() and f"{p.name}/" not in block) or (p.suffix == ".py" and p.name not in block)
    ]
    assert not unnamed, f"README layout does not mention {unnamed}"


def test_no_module_over_the_limit():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"

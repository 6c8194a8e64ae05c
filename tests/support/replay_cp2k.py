"""TEST STAND-IN FOR THE CP2K PROGRAM: replays a stored CP2K run (atomate2's mock_vasp pattern).

Usage, as the CP2K command of a label maker: ``python replay_cp2k.py REFERENCE_DIR -i cp2k.inp``.
The input gst-flows wrote must equal the reference input (``REFERENCE_DIR/cp2k.inp``, compared
line by line, whitespace-insensitive); then the reference output (``REFERENCE_DIR/cp2k.out``) is
written to standard output, as CP2K would. A different input is reported on standard error and
the program exits with code 1, as a crashing CP2K would.
"""

import sys
from pathlib import Path


def _lines(path: Path) -> list[str]:
    return [" ".join(line.split()).upper() for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    reference = Path(argv[0])
    written = Path(argv[argv.index("-i") + 1])
    expected, actual = _lines(reference / "cp2k.inp"), _lines(written)
    if expected != actual:
        for k, (want, got) in enumerate(zip(expected, actual, strict=False)):
            if want != got:
                print(f"input line {k + 1}: expected {want!r}, written {got!r}", file=sys.stderr)
                break
        else:
            print(f"input has {len(actual)} lines, the reference {len(expected)}", file=sys.stderr)
        return 1
    sys.stdout.write((reference / "cp2k.out").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

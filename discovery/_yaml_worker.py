"""A child process of :mod:`discovery.io`: parses one part of a large YAML stream.

Reads the part (UTF-8) from stdin and writes its documents, as ``discovery.io`` reads
them, to stdout: one tag byte, then ``marshal`` (b"m": plain values only, and several times
faster both ways than pickle on thousands of small mappings) or ``pickle`` (b"p": a
document with a timestamp, which marshal cannot write). Only ``discovery.io`` starts it, on
text it has already checked.
"""

from __future__ import annotations

import marshal
import pickle
import sys

from discovery.io import _parse_part


def main() -> None:
    text = sys.stdin.buffer.read().decode("utf-8")
    docs = _parse_part(text)
    try:
        out = b"m" + marshal.dumps(docs)
    except ValueError:  # a value marshal does not know (datetime, date)
        out = b"p" + pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()

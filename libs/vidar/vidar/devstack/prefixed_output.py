"""supervisord's event listener that echoes the services' output to the terminal, each line
prefixed with the service's name: supervisord itself writes a program's output as it is.

supervisord runs it (`[eventlistener:output]`, events `PROCESS_LOG`) and talks to it on stdin and
stdout, so the lines go out on stderr, which supervisord writes to its own stdout.
`python -m vidar.devstack.prefixed_output WIDTH`: WIDTH is the name column's.
"""

import io
import sys
from typing import cast

from supervisor import childutils


class LinePrefixer:
    """Whole lines, each with its program's name; a chunk's unfinished line waits for the next."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._unfinished: dict[str, str] = {}

    def lines(self, program: str, chunk: str) -> str:
        *complete, self._unfinished[program] = (self._unfinished.get(program, "") + chunk).split("\n")
        return "".join(f"{program:<{self._width}} | {line}\n" for line in complete)


def main() -> None:
    # supervisord counts an event's length in characters of its UTF-8 text.
    for stream, errors in ((sys.stdin, "strict"), (sys.stdout, "strict"), (sys.stderr, "replace")):
        cast(io.TextIOWrapper, stream).reconfigure(encoding="utf-8", errors=errors)
    prefixer = LinePrefixer(width=int(sys.argv[1]))
    while True:
        _, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        headers, chunk = childutils.eventdata(payload)
        sys.stderr.write(prefixer.lines(headers["processname"], chunk))
        sys.stderr.flush()
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()

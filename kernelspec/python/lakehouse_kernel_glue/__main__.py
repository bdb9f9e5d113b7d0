"""``python -m lakehouse_kernel_glue ARGS``: run this environment's ``lakehouse-kernel ARGS``.

The wheel's kernelspecs start the kernel this way. A wheel's data files cannot know where the
environment will be, and Jupyter replaces a kernelspec's leading ``python`` by its own
interpreter, whose environment holds the binary (in ``bin/``, where pip put it). The process
is replaced by the binary (``os.execv``): nothing of Python stays running, and the kernel gets
the signals, stdin and stdout Jupyter gave. Only the standard library is imported, so the
detour costs one interpreter start-up.
"""

from __future__ import annotations

import os
import sys
import sysconfig

BINARY = "lakehouse-kernel"


def _candidates():
    # Where pip put the wheel's scripts: the interpreter's own scheme first (a venv, conda,
    # the system), then the user scheme (pip install --user).
    yield os.path.join(sysconfig.get_path("scripts"), BINARY)
    try:
        yield os.path.join(sysconfig.get_path("scripts", f"{os.name}_user"), BINARY)
    except KeyError:
        pass
    # Any other layout (pip install --prefix, --target): ask the installed distribution.
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        for f in distribution("lakehouse-kernel").files or ():
            if f.name == BINARY:
                yield str(f.locate())
    except PackageNotFoundError:
        pass


def find_binary() -> str | None:
    """Path of the ``lakehouse-kernel`` installed with this package, or ``None``."""
    for path in _candidates():
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def main() -> int:
    binary = find_binary()
    if binary is None:
        print(
            f"lakehouse_kernel_glue: no {BINARY} binary beside {sys.executable}. Install the "
            "lakehouse-kernel wheel into this environment (pip install lakehouse_kernel-*.whl), "
            "or build from source and run `lakehouse-kernel install`.",
            file=sys.stderr,
        )
        return 2
    os.execv(binary, [binary, *sys.argv[1:]])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

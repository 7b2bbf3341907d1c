"""The ``mfrec`` command line: :data:`app` (typer) and :func:`main`, the console script."""

import sys

import typer

from mfrec.cli.app import app
from mfrec.cli.common import stderr

__all__ = ["app", "main"]


def main() -> None:
    """The ``mfrec`` console script. A usage mistake (unknown command or option, a value of the wrong type)
    is one ``error:`` line and exit code 2, like every other error, rather than typer's boxed panel."""
    try:
        code = app(prog_name="mfrec", standalone_mode=False)
    except typer.TyperException as exc:  # click's exceptions, as typer vendors them
        ctx = getattr(exc, "ctx", None)
        # `mfrec` or a group alone raises NoArgsIsHelpError, whose construction already printed the help.
        if type(exc).__name__ != "NoArgsIsHelpError":
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            stderr.print(f"error: {exc.format_message()}{hint}", markup=False)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        stderr.print("interrupted", markup=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

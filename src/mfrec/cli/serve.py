"""``mfrec serve MODEL_DIR``: the HTTP service (needs the ``serve`` extra)."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from mfrec.cli.common import FLAG, handle_errors, stderr
from mfrec.exceptions import ParameterError

INSTALL_HINT = (
    "mfrec serve needs FastAPI and uvicorn: pip install 'mfrec[serve]' (from a clone of the repository: "
    "pip install -e '.[serve]')"
)
LOG_LEVELS = ("warning", "info", "debug")


def check_port_free(host: str, port: int) -> None:
    """Refuse, as one clear error, a host:port this machine cannot listen on (uvicorn would exit 3 with a log line)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT does not count
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ParameterError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port or stop what uses it"
            ) from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_exposure(host: str, token_file: Path | None, insecure: bool) -> None:
    """Refuse to open writes to a network (a non-loopback --host) without a token, unless --insecure says so."""
    if token_file is not None or is_loopback(host):
        return
    if not insecure:
        raise ParameterError(
            f"--host {host} is reachable from other machines, and without --token-file anyone there could log "
            "ratings: pass --token-file FILE (or --insecure to accept that)"
        )
    stderr.print(
        f"warning: serving on {host} without a token (--insecure): anyone who can reach it can log ratings",
        markup=False,
        soft_wrap=True,
    )


@handle_errors
def serve(
    model_dir: Annotated[
        Path, typer.Argument(metavar="MODEL_DIR", help="Folder of a saved model (reloaded by POST /admin/reload).")
    ],
    db: Annotated[Path, typer.Option(help="SQLite ratings log (created if missing).")] = Path("ratings.sqlite"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token_file: Annotated[
        Path | None, typer.Option(help="File holding the bearer token that write and admin endpoints then require.")
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            help="Allow a non-loopback --host without --token-file (writes open to the network).", metavar=FLAG
        ),
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each loads the model (README).")] = 1,
    log_level: Annotated[
        str, typer.Option(help="warning (errors only), info (start-up and the address), debug (also every request).")
    ] = "info",
) -> None:
    """Serve recommendations over HTTP, log ratings durably and fold them in live.

    Example: mfrec serve model/ --db ratings.sqlite --port 8000 --workers 2
    """
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        stderr.print(INSTALL_HINT, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    import uvicorn

    from mfrec.service import create_app
    from mfrec.service.app import ENV_DB, ENV_MODEL_DIR, ENV_TOKEN_FILE, one_blas_thread

    if log_level not in LOG_LEVELS:
        raise ParameterError(f"--log-level {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    check_exposure(host, token_file, insecure)
    token = None
    if token_file is not None:
        token = token_file.read_text().strip()
        if not token:
            raise ParameterError(f"{token_file} is empty: write the bearer token in it")
    check_port_free(host, port)
    one_blas_thread()
    options = {"host": host, "port": port, "log_level": log_level, "access_log": log_level == "debug"}
    if token_file is None and is_loopback(host):  # check_exposure warned about the other addresses
        stderr.print(
            "note: no --token-file, so any program on this machine can post ratings (/admin/reload stays closed)",
            markup=False,
            soft_wrap=True,
        )
    stderr.print(
        f"loading the model in {model_dir} for http://{host}:{port} ({workers} worker{'s' * (workers > 1)})",
        markup=False,
    )
    if workers == 1:
        uvicorn.run(create_app(model_dir, db, token=token), **options)
        return
    # Each worker process builds its own app (and loads its own copy of the model) from these variables.
    create_app(model_dir, db, token=token)  # fail here, once, on a bad folder or log, not in every worker
    os.environ[ENV_MODEL_DIR], os.environ[ENV_DB] = str(model_dir.resolve()), str(db.resolve())
    if token_file is not None:
        os.environ[ENV_TOKEN_FILE] = str(token_file.resolve())
    uvicorn.run("mfrec.service.app:app_from_environment", factory=True, workers=workers, **options)

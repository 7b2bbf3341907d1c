"""`mfrec predict`: the ratings a saved model predicts for one user and some items, fallbacks flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mfrec.cli.common import AsJson, handle_errors, print_json, stdout
from mfrec.cli.tables import frame_table


@handle_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Folder of a saved model.")],
    user: Annotated[str, typer.Option("--user", "-u", help="User id (an unknown one gets the fallback).")],
    items: Annotated[list[str], typer.Option("--item", "-i", help="Item id; repeat for several.")],
    unknown: Annotated[
        str, typer.Option(help="'fallback': unknown ids get the average user / item; 'error': refuse them.")
    ] = "fallback",
    json_output: AsJson = False,
) -> None:
    """Predicted ratings of USER for each --item; the fallback column flags unknown ids.

    Example: mfrec predict model/ --user 196 --item 50 --item 181
    """
    from mfrec.models.persistence import load_model

    model = load_model(model_dir)
    frame = model.predict_frame([user] * len(items), items, unknown=unknown)
    if json_output:
        print_json({"predictions": frame.to_dict(orient="records")})
        return
    stdout.print(frame_table(frame))
    if frame["fallback"].any():
        stdout.print(
            "fallback: an unknown user is answered as the average known user, an unknown item as the average item"
        )

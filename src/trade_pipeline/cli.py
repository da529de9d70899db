"""``kedro run`` as Kedro ships it, except that a problem with the user's input (a parameter,
a dataset, a saved file) prints as one short message, without a traceback through Kedro."""
from __future__ import annotations

import re
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.validation import ParameterValidationError

from trade_pipeline.errors import InputError


@click.group(name="trade_pipeline")
def cli() -> None:
    """Project commands."""


# Kedro wraps each section's message in "- Parameter 'x': Failed to instantiate X for parameter 'x': ".
_KEDRO_WRAPPER = re.compile(r"^- Parameter '[^']*': (Failed to instantiate \w+ for parameter '[^']*': )?", re.MULTILINE)


def _run(**options: Any) -> Any:
    try:
        return kedro_run.callback(**options)
    except ParameterValidationError as error:
        raise click.ClickException(_KEDRO_WRAPPER.sub("", str(error))) from None
    except InputError as error:
        raise click.ClickException(str(error)) from None


cli.add_command(click.Command(
    "run", params=kedro_run.params, callback=_run, help=kedro_run.help, short_help=kedro_run.short_help,
))

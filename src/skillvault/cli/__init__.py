"""The ``skillvault`` command line (typer + rich, extra ``[cli]``).

Run it as ``skillvault ...`` (console script) or ``python -m skillvault.cli ...``.
Modules: :mod:`.app` (commands), :mod:`.session` (global options, opening the
library), :mod:`.errors` (exit codes, one-line error messages), :mod:`.output`
(tables, JSON, progress bars), :mod:`.review` (interactive review), :mod:`.doctor`
(environment checks). Heavy modules (numpy, onnxruntime, the manager) are imported
only inside the commands that need them, so ``--help`` stays fast.
"""

from __future__ import annotations


def main() -> None:
    """Run the command line (the ``skillvault`` console script)."""
    from .app import app

    app(prog_name="skillvault")


__all__ = ["main"]

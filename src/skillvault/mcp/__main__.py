"""``python -m skillvault.mcp [--http] [--port N] [--host H] [--token T]``: the same as ``skillvault mcp``.

The library is chosen as for the CLI: ``SKILLVAULT_DB``, ``SKILLVAULT_EMBED_*`` and
``SKILLVAULT_LLM_*`` environment variables.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run ``skillvault mcp`` with ``argv`` (default: the command line's arguments)."""
    from ..cli.app import app

    app(args=["mcp", *(sys.argv[1:] if argv is None else argv)], prog_name="skillvault")


if __name__ == "__main__":
    main()

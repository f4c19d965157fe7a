"""``python -m skillvault.cli``: the same as the ``skillvault`` console script."""

from . import main

if __name__ == "__main__":
    main()

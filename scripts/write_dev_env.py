"""Write the development .env that `make run` creates once (git-ignored; settings.py reads it).

So that `python manage.py ...` works in a development checkout without knowing the environment.
Production stays strict: a deployment sets its own variables, and a set variable always wins.
"""

import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    path = ROOT / ".env"
    if path.exists():
        print(f"{path} exists; left as it is.")
        return 0
    var = ROOT / "var"
    path.write_text(
        "# Written by `make run` for this development checkout. Never used by `make test` (ENV_FILE is\n"
        "# empty there) or by a deployment (its own variables win). Delete it to get a new key.\n"
        "DEBUG=1\n"
        f"SECRET_KEY={secrets.token_urlsafe(48)}\n"
        f"# The embedded SQLite database is {var / 'trialsite.sqlite3'}; photos are under {var / 'media'}.\n"
        f"VAR_DIR={var}\n"
    )
    print(f"Wrote {path}: DEBUG=1, a random SECRET_KEY, VAR_DIR={var}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m ddlguard``: the same entry point as the ``ddlguard`` command."""

from ddlguard.cli import entry

if __name__ == "__main__":
    entry()

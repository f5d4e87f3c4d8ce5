"""ddlguard: stop PostgreSQL schema drift before it reaches production."""

__version__ = "0.1.0"

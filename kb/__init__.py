"""Knowledge-base storage in SQL (SQLAlchemy), loaders and the KB store API (see the KB issue)."""

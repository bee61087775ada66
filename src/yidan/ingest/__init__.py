"""Ingest: files of the data contract -> validated DuckDB tables, and every refused row with its reason."""

from yidan.ingest.load import FileStats, LoadResult, load_table

__all__ = ["FileStats", "LoadResult", "load_table"]

"""Ingest: files of the data contract -> validated DuckDB tables, and every refused row with its reason."""

from yidan.ingest.check import CheckReport, check_files
from yidan.ingest.load import FileStats, LoadResult, load_table

__all__ = ["CheckReport", "FileStats", "LoadResult", "check_files", "load_table"]

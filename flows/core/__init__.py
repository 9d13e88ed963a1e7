"""The pure core of gwr-lake: plain functions on plain data (no Prefect, no files, no GX)."""

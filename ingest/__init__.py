"""Landing raw data as Parquet: the demo market generator and the raw-file contract."""

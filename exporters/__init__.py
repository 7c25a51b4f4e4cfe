"""Publication layer: reads the marts, runs the quality gates, writes by_date Parquet, the risk JSON,
the specific risks and Qlib binaries, and publishes each atomically (ARCHITECTURE.md, "Publishing")."""

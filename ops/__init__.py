"""Orchestration: where things live, running dbt, build reports."""

"""Presentation of a build: report.json, report.md/html and the plots."""

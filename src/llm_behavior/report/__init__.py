"""The run report: selection of divergent texts, HTML
building blocks and the page (docs/reporting.md)."""

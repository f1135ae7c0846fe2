"""Benchmarks and evaluation harnesses. Their results are reports
(:class:`~modelreuse.bench.report.Report`: ``to_dict()``, ``render()``, ``write()``) that
``modelreuse bench ...`` prints, as JSON with ``--json``; a harness that still returns a plain dict
is wrapped in :class:`~modelreuse.bench.report.DictReport` by the CLI."""

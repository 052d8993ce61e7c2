"""What readers see: figures, HTML pages and the pull-request report.

- :mod:`~nbml.reporting.plots`: the figures of the stage reports;
- :mod:`~nbml.reporting.dag`: the pipeline graph as inline SVG;
- :mod:`~nbml.reporting.html`: executed notebook to offline HTML report
  (used by the stage runner);
- :mod:`~nbml.reporting.compare`: ``make compare``, the page comparing the
  workspace, the last commit and the experiments;
- :mod:`~nbml.reporting.pr_report`: ``make pr-report``, the Markdown report CI
  posts on a pull request.
"""

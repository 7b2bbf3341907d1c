"""Reports: run folders and the self-contained HTML pages ``mfrec report`` writes about a run or a saved model.

* :mod:`.run`: what an evaluation leaves on disk (``run.json``, the model, the data) and its report;
* :mod:`.model`: the report on a saved model folder alone;
* :mod:`.plots`: every chart (matplotlib figures, also usable on their own);
* :mod:`.html`: the page shell both reports share.

matplotlib is imported only when a chart is drawn, so importing this package stays cheap.
"""

from mfrec.reports.model import build_model_report
from mfrec.reports.run import attach_cold_start, build_report, read_run, run_file, write_report, write_run

__all__ = [
    "attach_cold_start",
    "build_model_report",
    "build_report",
    "read_run",
    "run_file",
    "write_report",
    "write_run",
]

"""CPU seconds per ALS iteration on a synthetic set, for comparing two trees on a busy machine.

usage: PYTHONPATH=src python benchmarks/als_cpu.py als|implicit-als [SOLVER]
CPU time (time.process_time, all threads) moves far less than wall time when other processes share the
cores. Slope (fit(3) - fit(1)) / 2 on synthetic(20,000 x 5,000, 2M ratings), 1 thread, k = 64, after a
warm-up fit that compiles the kernels. Run the old and the new tree alternately and compare.
"""

from __future__ import annotations

import sys
import time

from mfrec.data import synthetic
from mfrec.models import ALS, ImplicitALS

model_class = ALS if sys.argv[1] == "als" else ImplicitALS
options = {"solver": sys.argv[2]} if len(sys.argv) > 2 else {}
data = synthetic(20_000, 5_000, 2_000_000, seed=0)
model_class(n_epochs=1, n_threads=1, **options).fit(synthetic(2_000, 500, 20_000, seed=0))
cpu = []
for epochs in (1, 3):
    started = time.process_time()
    model = model_class(n_epochs=epochs, n_threads=1, **options).fit(data)
    cpu.append(time.process_time() - started)
print(f"{sys.argv[1]} {options}: {(cpu[1] - cpu[0]) / 2:.3f} CPU s / iteration; last epoch {model.history_[-1]}")

"""spark-submit entry point: the flexbatch command line on the cluster spark-submit set up.

    spark-submit --master yarn --deploy-mode client jobs/spark/flexbatch_driver.py \\
        run --date 2026-09-02 --input IN --output OUT

The arguments are flexbatch's own; ``--engine spark`` is implied. The driver needs
flexbatch installed (``pip install 'flexbatch[spark]'``); executors need nothing but
Spark, since every step is Spark SQL (no Python runs on them).
"""

from __future__ import annotations

import os
import sys

from flexbatch.cli import main

if __name__ == "__main__":
    os.environ["FLEXBATCH_ENGINE"] = "spark"
    sys.argv = ["flexbatch", *sys.argv[1:]]
    main()

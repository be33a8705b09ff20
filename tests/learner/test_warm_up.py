"""The learner imports scikit-learn off the label path, before the first label needs it."""

from __future__ import annotations

import subprocess
import sys


def test_the_sgd_import_can_be_warmed_up_before_the_first_label() -> None:
    """In a fresh interpreter the challenger module does not import scikit-learn (a restarted
    learner serves without it); the warm-up thread does, before any label needs it."""
    script = (
        "import sys\n"
        "from fraudstream.learner.challenger import warm_up_in_background\n"
        "assert 'sklearn.linear_model' not in sys.modules\n"
        "warm_up_in_background().join()\n"
        "assert 'sklearn.linear_model' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)

"""A script next to a folder named `biocap` still imports the installed biocap (issue 16)."""
from __future__ import annotations

import subprocess
import sys


def test_folder_named_biocap_beside_a_script_does_not_shadow_the_package(tmp_path):
    (tmp_path / "biocap").mkdir()  # e.g. an output folder the user named after the project
    script = tmp_path / "enroll.py"
    script.write_text("from biocap import CaptureRequest\nprint(CaptureRequest.__module__)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "biocap.types"

import subprocess
import sys


def test_import_scalelaw_is_light():
    # import time is a benchmark (bench/import_time.py), not a test: it depends
    # on how busy the machine is
    code = (
        "import sys; import scalelaw; "
        "heavy = [m for m in ('torch', 'matplotlib', 'skdim', 'sklearn', "
        "'teacher_student', 'dask', 'tensorboard', 'statsmodels') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out

import subprocess
import sys


def test_import_scalelaw_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import scalelaw; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'matplotlib', 'skdim', 'sklearn', "
        "'teacher_student', 'dask', 'tensorboard') if m in sys.modules]; "
        "print(heavy, dt)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "[]", out
    # numpy + scipy.stats + pandas dominate; 3 s is generous for a cold 2-core machine
    assert float(out[1]) < 3.0

"""Runs gnuplot (Debian's gnuplot-nox) for the plot scripts of bench/."""
import os
import shutil
import subprocess
import tempfile


def available():
    return shutil.which("gnuplot") is not None


def data_file(rows, name):
    """Writes rows (tuples) as a whitespace-separated file and returns its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="chord-plot-"), name)
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(str(x) for x in row) + "\n")
    return path


def draw(png, title, body, size="900,560"):
    """Draws one PNG: body holds the set lines and the plot command."""
    script = "set terminal pngcairo size %s\nset output '%s'\nset title '%s'\nset grid\n%s\n" % (size, png, title, body)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)

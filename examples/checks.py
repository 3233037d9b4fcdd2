"""Checks that record what failed instead of stopping at the first, for the e2e scripts."""
import sys


class Checks:
    def __init__(self):
        self.failures = []

    def __call__(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL:", what, flush=True)
        return cond

    def finish(self, name, logs=None):
        """Prints the verdict and exits 1 if anything failed."""
        if self.failures:
            print("%s: %d failed%s" % (name, len(self.failures), " (logs in %s)" % logs if logs else ""))
            sys.exit(1)
        print("%s: ok" % name)
        sys.exit(0)

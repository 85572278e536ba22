#!/usr/bin/env python3
"""Prints the results in meson's test logs (testlog.json files, one or
more: the main build's and the sanitizer build's) as the one plain line CI
reads. A log that does not exist (a pass that did not run) counts nothing."""
import json
import pathlib
import sys

passed = failed = skipped = 0
for name in sys.argv[1:]:
    path = pathlib.Path(name)
    if not path.exists():
        continue
    with path.open(encoding="utf-8") as log:
        for line in log:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))

#!/usr/bin/env python3
"""Fails when AddressSanitizer, LeakSanitizer or UBSan reported anything in
the sanitizer run (scripts/test-sanitizers): every instrumented process,
servers the tests started included, writes its reports into one folder."""
import pathlib
import sys

folder = pathlib.Path(sys.argv[1])
reports = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
failed = 0
for path in reports:
    text = path.read_text(errors="replace")
    # GCC 12's LeakSanitizer cannot stop the world in a process that loaded
    # GnuTLS (glib-networking): it gives up before looking. Not a finding,
    # but said so.
    if "Tracer caught signal" in text and "ERROR: AddressSanitizer" not in text \
            and "runtime error" not in text and "detected memory leaks" not in text:
        print(f"{path.name}: LeakSanitizer could not run in this process (TLS)")
        continue
    failed += 1
    print(f"==== {path.name}\n{text}")
print(f"{len(reports)} report file(s), {failed} with findings")
sys.exit(1 if failed else 0)

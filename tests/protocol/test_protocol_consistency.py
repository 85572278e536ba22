#!/usr/bin/env python3
"""The protocol lives in PROTOCOL.md, protocol/protocol.h and web/protocol.js:
every message type and error code named in one is named in the others."""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
doc = (root / "protocol" / "PROTOCOL.md").read_text(encoding="utf-8")
header = (root / "protocol" / "protocol.h").read_text(encoding="utf-8")
js = (root / "web" / "protocol.js").read_text(encoding="utf-8")


def table_first_column(section):
    """Backticked names in the first column of the tables under a heading."""
    body = doc.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in body.splitlines():
        m = re.match(r"\|\s*(`[^|]+)\|", line)
        if m:
            names.update(re.findall(r"`([a-z-]+)`", m.group(1)))
    return names


doc_types = table_first_column("Client → server") | table_first_column("Server → client")
doc_codes = table_first_column("Error codes")

h_types = set(re.findall(r'inline constexpr const char k(?!Err[A-Z])\w+\[\] = "([a-z-]+)";', header))
h_codes = set(re.findall(r'inline constexpr const char kErr[A-Z]\w*\[\] = "([a-z-]+)";', header))

def js_block(name):
    m = re.search(name + r"\s*=\s*Object\.freeze\(\{(.*?)\}\)", js, re.S)
    assert m, f"web/protocol.js has no {name} = Object.freeze({{...}})"
    return set(re.findall(r":\s*'([a-z-]+)'", m.group(1)))

js_types = js_block("MessageType")
js_codes = js_block("ErrorCode")

failures = []
for what, a_name, a, b_name, b in [
    ("message types", "PROTOCOL.md", doc_types, "protocol.h", h_types),
    ("message types", "PROTOCOL.md", doc_types, "web/protocol.js", js_types),
    ("error codes", "PROTOCOL.md", doc_codes, "protocol.h", h_codes),
    ("error codes", "PROTOCOL.md", doc_codes, "web/protocol.js", js_codes),
]:
    if a != b:
        failures.append(f"{what}: only in {a_name}: {sorted(a - b)}; only in {b_name}: {sorted(b - a)}")

assert len(doc_types) >= 11 and len(doc_codes) >= 9, (doc_types, doc_codes)
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {len(doc_types)} message types and {len(doc_codes)} error codes agree")

#!/usr/bin/env python3
"""Writes test/fixtures/eval/pkgdesc-mini: a 20-package BEIR dataset cut from Debian's package
descriptions, for the BM25, mining and eval-CLI tests.

    python3 scripts/eval/make_bm25_fixture.py test/fixtures/eval/pkgdesc-mini

Source: bookworm main Translation-en index (apt-get -o Acquire::Languages=en update; read with
/usr/lib/apt/apt-helper cat-file). Query = the short description (first line of Description-en),
document = the long description (continuation lines, "." paragraph breaks dropped), id = the
package name, title empty. Each query's one relevant document is its own package (score 1). Queries
of the first 12 packages form the train split, the rest the test split. sqlite3 and sqlite3-doc
share most of their long description (near-duplicates, as in the real set).
Licences: the descriptions come from DFSG-free packages (each package's own licence).
"""
import json
import os
import subprocess
import sys

INDEX = "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en.lz4"
PACKAGES = [
    "curl", "wget", "git", "gzip", "bzip2", "xz-utils", "zstd", "htop", "jq", "rsync", "tmux", "screen",
    "sqlite3", "sqlite3-doc", "ripgrep", "fd-find", "nano", "less", "tar", "openssh-client",
]

out = sys.argv[1]
text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", INDEX], check=True, capture_output=True, text=True).stdout
found = {}
for para in text.split("\n\n"):
    lines = para.split("\n")
    name = lines[0][len("Package: "):] if lines[0].startswith("Package: ") else None
    if name not in PACKAGES or name in found:
        continue
    desc = [l for l in lines if l.startswith("Description-en: ")][0]
    start = lines.index(desc)
    body = [l.strip() for l in lines[start + 1:] if l.startswith(" ") and l.strip() != "."]
    found[name] = (desc[len("Description-en: "):], " ".join(body))
missing = [p for p in PACKAGES if p not in found]
assert not missing, missing

os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for p in PACKAGES:
        f.write(json.dumps({"_id": p, "title": "", "text": found[p][1]}, ensure_ascii=False) + "\n")
with open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8") as f:
    for p in PACKAGES:
        f.write(json.dumps({"_id": "q-" + p, "text": found[p][0]}, ensure_ascii=False) + "\n")
for split, names in (("train", PACKAGES[:12]), ("test", PACKAGES[12:])):
    with open(os.path.join(out, "qrels", split + ".tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for p in names:
            f.write("q-%s\t%s\t1\n" % (p, p))

#!/usr/bin/env python3
"""Runs every command of a course document and checks what it says to notice.

usage: learn_doc_test.py DOC BIN_DIR SOURCE_DIR

The document's ```sh blocks are run in order, each as one bash script, in
SOURCE_DIR, with BIN_DIR first on PATH and T naming a fresh scratch
directory shared by the whole document. Every block must be followed by a
paragraph that begins "You should see" (before the next block); each
`code span` in that paragraph must appear in the block's output (stdout and
stderr together). A block's exit status is not checked: an exercise may
run a scenario that fails on purpose. Exits 1 naming every miss.
"""
import os
import re
import subprocess
import sys
import tempfile


def blocks_and_checks(text):
    """[(line, script, [expected strings])] for every ```sh block."""
    found = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        start = i + 1
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        # The paragraph that says what to see: up to the next block.
        see = None
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```sh":
            if lines[j].startswith("You should see"):
                paragraph = []
                while j < len(lines) and lines[j].strip():
                    paragraph.append(lines[j])
                    j += 1
                see = re.findall(r"`([^`]+)`", " ".join(paragraph))
                break
            j += 1
        found.append((start, "\n".join(body), see))
    return found


def main():
    doc, bin_dir, source_dir = sys.argv[1:4]
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    failures = []
    with tempfile.TemporaryDirectory(prefix="learn-doc-") as scratch:
        env = dict(os.environ, T=scratch, PATH=bin_dir + os.pathsep + os.environ["PATH"])
        for line, script, see in blocks_and_checks(text):
            if not see:
                failures.append(f"{doc}:{line}: no 'You should see' paragraph with `text`")
                continue
            run = subprocess.run(["bash", "-c", script], cwd=source_dir, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=300)
            for wanted in see:
                if wanted not in run.stdout:
                    failures.append(f"{doc}:{line}: the output does not show `{wanted}`:\n"
                                    + run.stdout[-3000:])
    for failure in failures:
        print("FAIL: " + failure)
    if failures:
        return 1
    print(f"ok: every command of {os.path.basename(doc)} shows what the text says")
    return 0


if __name__ == "__main__":
    sys.exit(main())

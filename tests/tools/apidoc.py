#!/usr/bin/python3
"""apidoc.py: libpulse-client(3) documents every function of pulse.h.

Owns: reading the declarations of client/pulse.h (its functions and the
names of its types) and checking client/libpulse-client.3 against them.
A function is documented when the page has its synopsis line (a .B or
.BI line inside .nf/.fi that shows "name(") and names it in the text
(".BR name ()" or ".B name ()" at the start of a line); a type when the
page names it anywhere.

    apidoc.py              print what is missing; exit 1 if anything is
    apidoc.py --list       the functions and types pulse.h declares
    apidoc.py --self-test  check this tool on a tiny header and page

Invariants:
  - Comments, preprocessor lines and the __cplusplus guards never yield a
    declaration; a typedef of a function type (pulse_key_fn) is a type,
    not a function.
  - Only the page's own text counts: a name in a comment (\\") does not
    document anything.
Standard library only: run it with /usr/bin/python3.
"""
import argparse
import os
import re
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
HEADER = os.path.join(ROOT, "client", "pulse.h")
PAGE = os.path.join(ROOT, "client", "libpulse-client.3")


def declarations(text):
    """(functions, types) that a C header declares, each a sorted list."""
    text = re.sub(r"#\s*ifdef\s+__cplusplus.*?#\s*endif", "", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    text = re.sub(r"^[ \t]*#(?:\\\n|[^\n])*", " ", text, flags=re.M)
    # struct and enum bodies: their members are not declarations of the API
    while True:
        t = re.sub(r"\{[^{}]*\}", " ", text)
        if t == text:
            break
        text = t
    funcs, types = set(), set()
    for decl in text.split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        if decl.startswith("typedef "):
            m = (re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl) or
                 re.search(r"(\w+)\s*\(", decl) or re.search(r"(\w+)\s*$", decl))
            if m:
                types.add(m.group(1))
            continue
        m = re.match(r"[\w\s\*]*?\b(\w+)\s*\(", decl)
        if m:
            funcs.add(m.group(1))
    return sorted(funcs), sorted(types)


def page_text(text):
    """The page without its comment lines and trailing comments."""
    lines = []
    for line in text.splitlines():
        if line.startswith('.\\"') or line.startswith('\\"'):
            continue
        lines.append(re.sub(r'\\".*$', "", line))
    return lines


def synopsis_names(lines):
    """Names shown as "name(" on .B/.BI lines inside .nf ... .fi."""
    names, fill = set(), True
    for line in lines:
        if line.startswith(".nf"):
            fill = False
        elif line.startswith(".fi"):
            fill = True
        elif not fill and re.match(r"\.BI?\s", line):
            names.update(re.findall(r"\b(\w+)\(", line))
    return names


def described_names(lines):
    """Names given as ".BR name ()" or ".B name ()" in the text."""
    names = set()
    for line in lines:
        m = re.match(r"\.BR?\s+(\w+)\s+\(\)", line)
        if m:
            names.add(m.group(1))
    return names


def missing(header_text, page):
    """Lines saying what the page lacks, in header order."""
    funcs, types = declarations(header_text)
    lines = page_text(page)
    syn, desc = synopsis_names(lines), described_names(lines)
    words = set(re.findall(r"\w+", "\n".join(lines)))
    out = []
    for f in funcs:
        lack = [what for what, have in (("synopsis", syn), ("description", desc))
                if f not in have]
        if lack:
            out.append("%s(): no %s" % (f, " and no ".join(lack)))
    for t in types:
        if t not in words:
            out.append("%s: type never named" % t)
    return out


HEADER_SAMPLE = """
#ifdef __cplusplus
extern "C" {
#endif
/* int pulse_in_comment(void); */
#define PULSE_MACRO(x) pulse_macro_call(x)
typedef struct pulse_thing { int (*cb)(void *ud); } pulse_thing;
typedef int pulse_each_fn(void *arg, const char *key);
typedef int (*pulse_plan_fn)(void *ud);
enum { PULSE_A = 0, PULSE_B = 1 };
const char *pulse_name(int code);
pulse_thing *pulse_open(const char *path,
                        int *err);
void pulse_gone(pulse_thing *t);
#ifdef __cplusplus
}
#endif
"""

PAGE_SAMPLE = """.TH T 3
.SH SYNOPSIS
.nf
.BI "const char *pulse_name(int " code );
.BI "pulse_thing *pulse_open(const char *" path ", int *" err );
.BI "void pulse_gone(pulse_thing *" t );
.fi
.SH DESCRIPTION
.BR pulse_name ()
names; pulse_each_fn and pulse_plan_fn are called back.
.B pulse_open ()
opens.
.BR pulse_gone ()
ends.
"""


def self_test():
    funcs, types = declarations(HEADER_SAMPLE)
    assert funcs == ["pulse_gone", "pulse_name", "pulse_open"], funcs
    assert types == ["pulse_each_fn", "pulse_plan_fn", "pulse_thing"], types
    assert missing(HEADER_SAMPLE, PAGE_SAMPLE) == []
    # a function named only in the text, or only in the synopsis
    page = PAGE_SAMPLE.replace(".BR pulse_gone ()\n", "")
    assert missing(HEADER_SAMPLE, page) == ["pulse_gone(): no description"]
    page = PAGE_SAMPLE.replace('.BI "void pulse_gone(pulse_thing *" t );\n', "")
    assert missing(HEADER_SAMPLE, page) == ["pulse_gone(): no synopsis"]
    # outside .nf/.fi a .BI line is not the synopsis; a comment is nothing
    page = PAGE_SAMPLE.replace(".fi\n", "").replace(".nf\n", ".fi\n")
    assert len(missing(HEADER_SAMPLE, page)) == 3, missing(HEADER_SAMPLE, page)
    page = PAGE_SAMPLE.replace(".BR pulse_gone ()", '.\\" .BR pulse_gone ()')
    assert missing(HEADER_SAMPLE, page) == ["pulse_gone(): no description"]
    page = PAGE_SAMPLE.replace("pulse_plan_fn", "the plan function")
    assert missing(HEADER_SAMPLE, page) == ["pulse_plan_fn: type never named"]
    # the real files parse to something sensible
    with open(HEADER) as f:
        funcs, types = declarations(f.read())
    assert "pulse_connect" in funcs and "pulse_key_fn" in types, (funcs, types)
    assert "pulse_key_fn" not in funcs
    with tempfile.TemporaryDirectory() as d:  # a file the tool can read
        p = os.path.join(d, "t.3")
        with open(p, "w") as f:
            f.write(PAGE_SAMPLE)
        assert run(HEADER_SAMPLE, p, quiet=True) == 0
    print("apidoc: self-test passed")
    return 0


def run(header_text, page_path, quiet=False):
    with open(page_path) as f:
        lacks = missing(header_text, f.read())
    for line in lacks:
        print("%s: %s" % (os.path.relpath(page_path, ROOT), line))
    if lacks:
        print("apidoc: %d declarations of client/pulse.h are not documented in "
              "libpulse-client(3)" % len(lacks))
        return 1
    if not quiet:
        print("apidoc: every function and type of client/pulse.h is in "
              "libpulse-client(3)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--header", default=HEADER)
    ap.add_argument("--page", default=PAGE)
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    with open(a.header) as f:
        header_text = f.read()
    if a.list:
        funcs, types = declarations(header_text)
        print("\n".join(f + "()" for f in funcs))
        print("\n".join(types))
        return 0
    return run(header_text, a.page)


if __name__ == "__main__":
    sys.exit(main())

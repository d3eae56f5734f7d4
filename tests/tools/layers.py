#!/usr/bin/python3
"""layers.py: the daemon's files form layers that only call down (issue 16).

Owns: reading daemon/*.c with a small C tokenizer, the file graph built
from it (A -> B when a function or table of A.c calls or names a function
defined in B.c), and checking that graph against tests/tools/layers.txt:
the layers from top to bottom and the upward edges accepted for now.

    layers.py              print violations; exit 1 if there is any
    layers.py --stats      the figures: cycles, upward edges, sizes
    layers.py --json       the same figures as JSON
    layers.py --dot        the file graph for Graphviz (upward edges red)
    layers.py --self-test  check this tool on a tiny tree of its own

Invariants:
  - Comments, strings, char literals and preprocessor lines never yield
    a reference; a #define NAME(...) body does, at each use of NAME(.
  - A name resolves to the calling file's own definition first (static or
    not), else to the one non-static definition in another file; another
    file's static function is never a target. Members (after . or ->),
    parameters and locals that shadow a function name are not references.
  - An edge is fine only if it goes down a layer or an allow line names
    it; every daemon/*.c is placed exactly once; an allow line that names
    no edge, or a downward one, is an error, so the list only shrinks.
  - No state outside the values passed between functions.
Standard library only: run it with /usr/bin/python3.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile

TOKEN = re.compile(r"""
    (?P<pp>^[ \t]*\#(?:\\\n|[^\n])*)
  | (?P<com>/\*.*?\*/|//[^\n]*)
  | (?P<str>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<num>\.?\d[\w.]*)
  | (?P<nl>\n) | (?P<ws>[ \t\r\f\v]+)
  | (?P<p>->|\.\.\.|\S)""", re.M | re.S | re.X)
DEFINE = re.compile(r"#\s*define\s+(\w+)\((.*)", re.S)
# A name after one of these is not a declaration of a local of that name.
NOT_TYPES = {"return", "case", "goto", "else", "do", "sizeof"}


def tokenize(text):
    """Tokens (kind, text, line) of C source, and its function-like macros
    ({name: identifiers of the body}): the calls a macro hides are made
    where it is used, so LOGI(...) is a call of plog."""
    toks, macros, line = [], {}, 1
    for m in TOKEN.finditer(text):
        kind, val = m.lastgroup, m.group()
        if kind == "pp":
            d = DEFINE.match(val.strip())
            if d:
                macros[d.group(1)] = set(re.findall(r"[A-Za-z_]\w*", d.group(2)))
        elif kind in ("id", "num", "p"):
            toks.append((kind, val, line))
        line += val.count("\n")
    return toks, macros, line - 1


def match(toks, i, step=1):
    """Index of the bracket matching toks[i], scanning forward (step 1) or
    backward (step -1)."""
    open_, depth = toks[i][1], 0
    close = dict(zip("({[)}]", ")}]({["))[open_]
    while 0 <= i < len(toks):
        depth += (toks[i][1] == open_) - (toks[i][1] == close)
        if depth == 0:
            return i
        i += step
    raise ValueError("unbalanced %r at line %d" % (open_, toks[-1][2]))


def def_name(head):
    """(name, index of its '(') when head (the tokens before a top-level
    '{') is a function definition's, else None."""
    j = len(head) - 1
    if j < 0 or head[j][1] != ")" or any(t[1] == "=" for t in head):
        return None
    k = match(head, j, -1)
    if k > 0 and head[k - 1][1] == "(" and k > 1 and head[k - 2][1] == "__attribute__":
        return def_name(head[:k - 2])  # an attribute after the parameters
    if k > 0 and head[k - 1][0] == "id":
        return head[k - 1][1], k
    return None


def declared(toks):
    """Names the tokens declare (parameters, locals): an identifier after a
    type word or '*', before = ; , [ or ). Only those that shadow a
    function name matter; the rest are harmless."""
    out = set()
    for j in range(1, len(toks) - 1):
        kind, val, _ = toks[j]
        prev, nxt = toks[j - 1], toks[j + 1][1]
        if kind != "id" or nxt not in ("=", ";", ",", "[", ")"):
            continue
        if (prev[0] == "id" and prev[1] not in NOT_TYPES) or \
           (prev[1] == "*" and (toks[j - 2][0] == "id" or toks[j - 2][1] == "*")):
            out.add(val)
    return out


def declarator(head):
    """The name an initialized declaration declares: the first identifier
    before '[' or '=' (int (*hooks[])(int) declares hooks, not int)."""
    ids = [t[1] for n, t in enumerate(head) if t[0] == "id"
           and (n + 1 == len(head) or head[n + 1][1] == "[")]
    return ids[0] if ids else "?"


def references(toks, macros, skip=()):
    """(name, line, called) for each identifier in toks that may name a
    function: not a member, not a struct tag, not a label, not in skip."""
    out = []
    for j, (kind, val, line) in enumerate(toks):
        prev = toks[j - 1][1] if j else ""
        nxt = toks[j + 1][1] if j + 1 < len(toks) else ""
        if kind != "id" or val in skip or prev in (".", "->", "struct",
                                                   "union", "enum", "goto"):
            continue
        if nxt == ":" and prev in (";", "{", "}"):
            continue
        called = nxt == "("
        out.append((val, line, called))
        if called and val in macros:
            out += [(n, line, True) for n in macros[val] if n not in skip]
    return out


def parse_c(text, macros):
    """A file's functions {name: {static, line, end, refs}} and its file-scope
    initializers as pseudo functions "(init NAME)", plus its line count.
    Only brace depth 0 is looked at; everything inside is a body."""
    toks, local, nlines = tokenize(text)
    macros = dict(macros, **local)
    funcs, i, start = {}, 0, 0
    while i < len(toks):
        val = toks[i][1]
        if val == "{":
            head, end = toks[start:i], match(toks, i)
            named = def_name(head)
            if named:
                name, k = named
                shadow = declared(head[k:]) | declared(toks[i + 1:end])
                funcs[name] = {"static": any(t[1] == "static" for t in head),
                               "line": head[k - 1][2], "end": toks[end][2],
                               "refs": references(toks[i + 1:end], macros, shadow)}
                start = end + 1
            i = end + 1
            continue
        if val == ";":
            head = toks[start:i]
            eq = next((n for n, t in enumerate(head) if t[1] == "="), None)
            if eq:
                var = declarator(head[:eq])
                funcs["(init %s)" % var] = {
                    "static": True, "line": head[0][2], "end": toks[i][2],
                    "refs": references(head[eq + 1:], macros), "init": True}
            start = i + 1
        i += 1
    return funcs, nlines


def load_tree(root):
    """{file: {"funcs", "lines"}} for root/daemon/*.c; header macros apply to
    every file."""
    ddir = os.path.join(root, "daemon")

    def read(name):
        with open(os.path.join(ddir, name), encoding="utf-8", errors="replace") as fh:
            return fh.read()
    names = sorted(os.listdir(ddir))
    macros = {}
    for h in (n for n in names if n.endswith(".h")):
        macros.update(tokenize(read(h))[1])
    tree = {}
    for c in (n for n in names if n.endswith(".c")):
        funcs, nlines = parse_c(read(c), macros)
        tree[c] = {"funcs": funcs, "lines": nlines}
    return tree


def build_graph(tree):
    """{(A, B): [(caller, callee, line, called)]} for A != B, and the
    problems met (a non-static function defined in two files)."""
    exported, problems = {}, []
    for f, name in ((f, n) for f in tree for n, fn in tree[f]["funcs"].items()
                    if not fn["static"]):
        if name in exported:
            problems.append("%s defined in both %s and %s" % (name, exported[name], f))
        exported[name] = f
    edges = {}
    for f, info in tree.items():
        for caller, fn in info["funcs"].items():
            for name, line, called in fn["refs"]:
                if name in info["funcs"] or name not in exported:
                    continue  # own definition, or not a daemon function
                edges.setdefault((f, exported[name]), []).append((caller, name, line, called))
    return edges, problems


def read_layers(path):
    """(layers: [[file]] top first, allows: {(A, B): (lineno, reason)},
    problems). A layer is a line of file names; `allow A.c -> B.c  # why`
    accepts one edge that does not go down."""
    layers, allows, problems = [], {}, []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            text, _, reason = raw.partition("#")
            words = text.split()
            if words and words[0] == "allow":
                edge = tuple(words[1::2])
                if len(words) != 4 or words[2] != "->" or not reason.strip():
                    problems.append("%s:%d: want `allow A.c -> B.c  # reason`" % (path, n))
                elif edge in allows:
                    problems.append("%s:%d: a second allow for %s -> %s" % (path, n, *edge))
                else:
                    allows[edge] = (n, reason.strip())
            elif words:
                layers.append(words)
    return layers, allows, problems


def level_of(layers):
    return {f: i for i, files in enumerate(layers) for f in files}


def check_placement(tree, layers, allows, path):
    """Every daemon file placed once, nothing placed that does not exist."""
    placed = [f for files in layers for f in files]
    out = ["%s: %s is placed twice" % (path, f) for f in sorted(set(placed))
           if placed.count(f) > 1]
    out += ["%s: daemon/%s is not placed in any layer" % (path, f)
            for f in tree if f not in placed]
    out += ["%s: %s is placed but daemon/%s does not exist" % (path, f, f)
            for f in placed if f not in tree]
    out += ["%s:%d: allow names %s, which no layer places" % (path, allows[e][0], f)
            for e in allows for f in e if f not in placed]
    return out


def sccs(nodes, edges):
    """Strongly connected components, each sorted: the files that reach
    each other. Quadratic, which a graph of ~25 files does not notice."""
    succ = {n: {b for (a, b) in edges if a == n} for n in nodes}

    def reach(v):
        seen, todo = {v}, [v]
        while todo:
            for w in succ[todo.pop()] - seen:
                seen.add(w)
                todo.append(w)
        return seen
    fwd = {n: reach(n) for n in nodes}
    return sorted({tuple(sorted(w for w in fwd[v] if v in fwd[w])) for v in nodes})


def upward(edges, level):
    """Edges that do not go down a layer (up, or within one layer)."""
    return sorted(e for e in edges if e[0] in level and e[1] in level
                  and level[e[0]] >= level[e[1]])


def callees(sites):
    return ", ".join(sorted({s[1] for s in sites}))


def describe(edge, sites, level, comps):
    """An edge that is not allowed: its functions, each site, its cycle."""
    a, b = edge
    how = "within layer %d" % (level[a] + 1) if level[a] == level[b] else \
        "layer %d -> %d" % (level[a] + 1, level[b] + 1)
    out = ["%s -> %s (%s): %s" % (a, b, how, callees(sites))]
    out += ["    daemon/%s:%d %s %s %s" % (a, ln, caller, "calls" if c else "names", callee)
            for caller, callee, ln, c in sites]
    return out + ["    in a cycle of %d files: %s" % (len(c), " ".join(c))
                  for c in comps if a in c and b in c]


def violations(tree, edges, layers, allows, path):
    """Every problem as lines of text: placement, edges that do not go down
    and are not allowed (every cycle has one unless all its upward edges
    are allowed), allow lines that are stale or pointless."""
    out = check_placement(tree, layers, allows, path)
    if out:
        return out  # levels mean nothing until every file is placed
    level = level_of(layers)
    comps = [c for c in sccs(tree, edges) if len(c) > 1]
    for e in upward(edges, level):
        if e not in allows:
            out += describe(e, edges[e], level, comps)
    for e, (n, _) in sorted(allows.items(), key=lambda kv: kv[1]):
        if e not in edges:
            out.append("%s:%d: allow %s -> %s matches no edge: delete the line" % (path, n, *e))
        elif level[e[0]] < level[e[1]]:
            out.append("%s:%d: allow %s -> %s is a downward edge: delete the line" % (path, n, *e))
    return out


def figures(tree, edges, layers):
    """The issue's before/after figures, as one dict."""
    funcs = [(fn["end"] - fn["line"] + 1, f, n) for f, info in tree.items()
             for n, fn in info["funcs"].items() if not fn.get("init")]
    comps = [c for c in sccs(tree, edges) if len(c) > 1]
    longest, largest = max(funcs), max((i["lines"], f) for f, i in tree.items())
    return {
        "files": len(tree), "functions": len(funcs), "edges": len(edges),
        "upward_edges": [{"edge": "%s -> %s" % e, "functions": sorted({s[1] for s in edges[e]})}
                         for e in upward(edges, level_of(layers))],
        "cycles": [{"size": len(c), "files": c} for c in comps],
        "files_in_cycles": sum(len(c) for c in comps),
        "longest_function": {"file": longest[1], "name": longest[2], "lines": longest[0]},
        "largest_file": {"file": largest[1], "lines": largest[0]},
        "median_function_lines": statistics.median(f[0] for f in funcs),
        "per_file": {f: {"functions": sum(1 for x in funcs if x[1] == f),
                         "lines": i["lines"]} for f, i in tree.items()},
    }


def print_stats(fig, w):
    w("files %(files)d, functions %(functions)d, file edges %(edges)d, " % fig)
    w("upward edges %d\n" % len(fig["upward_edges"]))
    w("cycles (SCCs of more than one file): %d, files in cycles: %d\n" % (
        len(fig["cycles"]), fig["files_in_cycles"]))
    w("".join("  size %d: %s\n" % (c["size"], " ".join(c["files"])) for c in fig["cycles"]))
    w("upward edges:\n" + "".join("  %s: %s\n" % (u["edge"], ", ".join(u["functions"]))
                                  for u in fig["upward_edges"]))
    w("longest function: %(file)s %(name)s, %(lines)d lines\n" % fig["longest_function"])
    w("largest file: %(file)s, %(lines)d lines\n" % fig["largest_file"])
    w("median function: %s lines\nper file (functions, lines):\n" % fig["median_function_lines"])
    w("".join("  %-12s %4d %6d\n" % (f, p["functions"], p["lines"])
              for f, p in fig["per_file"].items()))


def print_dot(edges, layers, w):
    """One rank per layer, top first; edges that do not go down are red."""
    up = set(upward(edges, level_of(layers)))
    w("digraph pulsed {\n  node [shape=box];\n")
    w("".join("  { rank=same; %s }\n" % " ".join('"%s";' % f for f in files)
              for files in layers))
    w("".join('  "%s" -> "%s" [label="%d"%s];\n' % (e + (len(edges[e]), ", color=red" * (e in up)))
              for e in sorted(edges)))
    w("}\n")


def run(root, layers_path, mode, w):
    """One run of the tool on root, writing with w; returns the exit status."""
    tree = load_tree(root)
    edges, problems = build_graph(tree)
    layers, allows, lproblems = read_layers(layers_path)
    if mode == "dot":
        print_dot(edges, layers, w)
    elif mode == "json":
        w(json.dumps(figures(tree, edges, layers), indent=1) + "\n")
    elif mode == "stats":
        print_stats(figures(tree, edges, layers), w)
    if mode != "check":
        return 0
    problems += lproblems + violations(tree, edges, layers, allows, layers_path)
    w("".join(p + "\n" for p in problems))
    if not problems:
        w("layers: %d files, %d edges, %d allowed against the layers: ok\n"
          % (len(tree), len(edges), len(allows)))
    return 1 if problems else 0


SELF_TREE = {
    "top.c": '#include "x.h"\nint top(void)\n{\n\treturn mid(1) + LOGX(2);\n}\n',
    "mid.c": ('static int helper(int x) { return x; }\n'
              'int mid(int x)\n{\n\t/* low(1) in a comment */\n\tconst char *s = "low(2)";\n'
              '\treturn helper(x) + low(x) + s[0];\n}\n'),
    "low.c": ('static int helper(int x) { return -x; }\n'
              'static int (*const hooks[])(int) = { mid };\n'
              'int low(int x)\n{\n\tint top = 1;\n\treturn helper(x) + top + hooks[0](x);\n}\n'
              'int bottom(int x) { return x; }\n'),
    "x.h": "#define LOGX(v) bottom(v)\n",
}


def self_test():
    """A three-file tree: top -> mid -> low, low -> mid through a table (the
    cycle {low, mid}), a static helper in two files, a shadowing local, a
    call in a macro, calls in a comment and a string that must not count."""
    with tempfile.TemporaryDirectory() as root:
        os.mkdir(os.path.join(root, "daemon"))
        for name, text in SELF_TREE.items():
            with open(os.path.join(root, "daemon", name), "w") as fh:
                fh.write(text)
        edges, _ = build_graph(load_tree(root))
        assert sorted(edges) == [("low.c", "mid.c"), ("mid.c", "low.c"),
                                 ("top.c", "low.c"), ("top.c", "mid.c")], sorted(edges)
        assert [s[1] for s in edges[("mid.c", "low.c")]] == ["low"]
        assert [s[1] for s in edges[("top.c", "low.c")]] == ["bottom"]
        ok = "allow low.c -> mid.c  # hooks\n"
        for text, status, expect in [
                ("top.c\nmid.c\nlow.c\n", 1, "low.c -> mid.c (layer 3 -> 2)"),
                ("top.c\nmid.c\nlow.c\n", 1, "in a cycle of 2 files: low.c mid.c"),
                ("top.c\nmid.c\n", 1, "daemon/low.c is not placed"),
                ("top.c\nmid.c\nlow.c\n" + ok, 0, ": ok"),
                ("top.c\nmid.c low.c\n" + ok, 1, "within layer 2"),
                ("top.c\nmid.c\nlow.c\n" + ok + "allow low.c -> top.c  # old\n", 1,
                 "matches no edge"),
                ("top.c\nmid.c\nlow.c\n" + ok + "allow top.c -> mid.c  # why\n", 1,
                 "is a downward edge"),
                ("top.c\nmid.c\nlow.c\nallow low.c -> mid.c\n", 1, "want `allow")]:
            path = os.path.join(root, "layers.txt")
            with open(path, "w") as fh:
                fh.write(text)
            report = []
            got = run(root, path, "check", report.append)
            assert got == status and expect in "".join(report), (text, got, report)
    print("layers.py self-test: ok")
    return 0


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(here)))
    ap.add_argument("--layers", default=os.path.join(here, "layers.txt"))
    group = ap.add_mutually_exclusive_group()
    for mode in ("stats", "json", "dot", "self-test"):
        group.add_argument("--" + mode, dest="mode", action="store_const", const=mode)
    args = ap.parse_args(argv)
    if args.mode == "self-test":
        return self_test()
    return run(args.root, args.layers, args.mode or "check", sys.stdout.write)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

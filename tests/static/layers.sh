#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/static/layers.sh - the tree's architecture rules, read off the
# #include lines of every user-space file (TAP):
#   - lib/ never includes kanaryd/ or kanaryctl/; lib/util/ includes nothing
#     else of ours but include/; modelserver/ uses lib/util/ only;
#   - kanaryd/ and kanaryctl/ never include each other;
#   - no cycle of includes between user-space files;
#   - the BPF skeleton is included by lib/datapath/ alone.
cd "$(dirname "$0")/../.." || exit 1
exec python3 - "$@" <<'PY'
import os, re, sys

USER_DIRS = ["lib", "kanaryd", "kanaryctl", "modelserver"]
# Where a quoted include is looked up, as the compiler does: the including
# file's folder first, then the -I folders of the Makefile.
SEARCH = ["include", "lib", "."]
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

files = []
for top in USER_DIRS:
    for root, _, names in os.walk(top):
        files += [os.path.join(root, n) for n in names if n.endswith((".c", ".h"))]
files.sort()

def resolve(src, inc):
    for d in [os.path.dirname(src)] + SEARCH:
        p = os.path.normpath(os.path.join(d, inc))
        if os.path.exists(p):
            return p
    return None  # generated (the skeleton) or a system header

edges = {}
unresolved = {}
for f in files:
    text = open(f, encoding="utf-8", errors="replace").read()
    edges[f] = []
    for inc in INC.findall(text):
        r = resolve(f, inc)
        if r:
            edges[f].append(r)
        else:
            unresolved.setdefault(f, []).append(inc)

n = 0
failed = 0
def check(ok, what, bad):
    global n, failed
    n += 1
    if ok:
        print(f"ok {n} - {what}")
    else:
        failed += 1
        print(f"not ok {n} - {what}")
        for b in bad[:20]:
            print(f"#   {b}")

def violations(src_prefix, allowed):
    bad = []
    for f, deps in edges.items():
        if not f.startswith(src_prefix):
            continue
        for d in deps:
            if not any(d.startswith(a) for a in allowed):
                bad.append(f"{f} includes {d}")
    return bad

bad = violations("lib/", ["lib/", "include/"])
check(not bad, "lib/ includes only lib/ and include/ (never kanaryd/ or kanaryctl/)", bad)
bad = violations("lib/util/", ["lib/util/", "include/"])
check(not bad, "lib/util/ includes only lib/util/ and include/", bad)
bad = violations("kanaryd/", ["kanaryd/", "lib/", "include/"])
check(not bad, "kanaryd/ includes only kanaryd/, lib/ and include/", bad)
bad = violations("kanaryctl/", ["kanaryctl/", "lib/", "include/"])
check(not bad, "kanaryctl/ includes only kanaryctl/, lib/ and include/", bad)
bad = violations("modelserver/", ["modelserver/", "lib/util/", "include/"])
check(not bad, "modelserver/ includes only modelserver/, lib/util/ and include/", bad)

skel = [f"{f} includes {i}" for f, incs in unresolved.items() for i in incs
        if i.endswith(".skel.h") and not f.startswith("lib/datapath/")]
check(not skel, "only lib/datapath/ includes the BPF skeleton", skel)
other = [f"{f} includes \"{i}\" (not found)" for f, incs in unresolved.items()
         for i in incs if not i.endswith(".skel.h")]
check(not other, "every quoted include resolves to a file of the tree", other)

# Cycles: depth-first search over the include graph.
WHITE, GREY, BLACK = 0, 1, 2
color = {f: WHITE for f in edges}
cycles = []
def visit(f, stack):
    color[f] = GREY
    stack.append(f)
    for d in edges.get(f, []):
        if color.get(d, BLACK) == GREY:
            cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
        elif color.get(d) == WHITE:
            visit(d, stack)
    stack.pop()
    color[f] = BLACK
for f in sorted(edges):
    if color[f] == WHITE:
        visit(f, [])
check(not cycles, "no cycle of includes between user-space files", cycles)

print(f"1..{n}")
sys.exit(1 if failed else 0)
PY

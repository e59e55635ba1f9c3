#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/static/core_calls.sh - one core applies every change (TAP):
#   - in kanaryd/, only the core (agent.c) calls a rollout transition (a
#     function of lib/judge/rollout.h that takes a struct rollout_state to
#     change) or a data-path writer (dp_service_add, ..._update,
#     ..._set_weight, ..._promote, ..._set_down, ..._remove,
#     ..._set_affinity, dp_clear_clients, dp_flush_backend_flows,
#     dp_reattach); the other parts hand back
#     outcomes;
#   - in lib/, the transitions are called by lib/judge/ alone and the
#     writers by lib/datapath/ alone; kanaryctl/ and modelserver/ call
#     neither;
#   - the checker itself fails on a planted call, and ignores one in a
#     comment or a string (run over a temporary copy of the tree).
#
#   tests/static/core_calls.sh             check the tree
#   tests/static/core_calls.sh --root DIR  check DIR's copy only (no
#                                          self-test), for the self-test
cd "$(dirname "$0")/../.." || exit 1
exec python3 - "$0" "$@" <<'PY'
import os, re, shutil, subprocess, sys, tempfile

SCRIPT = sys.argv[1]
args = sys.argv[2:]
root = "."
self_test = True
if args[:1] == ["--root"] and len(args) == 2:
    root, self_test = args[1], False
elif args:
    print(f"usage: {SCRIPT} [--root DIR]", file=sys.stderr)
    sys.exit(2)

CORE = {"kanaryd/agent.c"}
ROLLOUT_H = "lib/judge/rollout.h"
DP_WRITERS = ["dp_service_add", "dp_service_update", "dp_service_set_weight",
              "dp_service_promote", "dp_service_set_down", "dp_service_remove",
              "dp_flush_backend_flows", "dp_reattach",
              "dp_service_set_affinity", "dp_clear_clients"]
# Transitions that must be among those read off rollout.h: a checker that
# found none would pass anything.
TRANSITIONS_EXPECTED = {"rollout_start", "rollout_rollback",
                        "rollout_warmup_done", "rollout_evaluated"}

def strip_code(text):
    """The text with comments, string and character literals blanked
    (newlines kept, so line numbers stay)."""
    out = re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                 lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return out

def transitions_of(header):
    """Functions of rollout.h whose first parameter is a struct
    rollout_state to change (not const)."""
    text = strip_code(open(header, encoding="utf-8").read())
    return sorted(set(re.findall(
        r"\b(rollout_\w+)\s*\(\s*struct\s+rollout_state\s*\*", text)))

def sources(top):
    found = []
    for base, _, names in os.walk(os.path.join(root, top)):
        found += [os.path.join(base, n) for n in names if n.endswith((".c", ".h"))]
    return sorted(os.path.relpath(f, root) for f in found)

def calls(path, names):
    """(name, line) of each call of one of names in path's code. A
    prototype in a header counts too: a header outside the allowed places
    has no business declaring them."""
    text = strip_code(open(os.path.join(root, path), encoding="utf-8",
                           errors="replace").read())
    pat = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\s*\(")
    return [(m.group(1), text.count("\n", 0, m.start()) + 1)
            for m in pat.finditer(text)]

n = 0
failed = 0
def check(ok, what, bad=()):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {what}")
    if not ok:
        failed += 1
        for b in list(bad)[:20]:
            print(f"#   {b}")

transitions = transitions_of(os.path.join(root, ROLLOUT_H))
missing = TRANSITIONS_EXPECTED - set(transitions)
check(not missing, f"{ROLLOUT_H} declares the rollout transitions "
      f"({', '.join(transitions)})",
      [f"not found: {m}" for m in sorted(missing)])

def offenders(tops, names, allowed):
    bad = []
    for top in tops:
        for f in sources(top):
            if any(f == a or f.startswith(a) for a in allowed):
                continue
            bad += [f"{f}:{line}: calls {name}()" for name, line in calls(f, names)]
    return bad

check_list = [
    (["kanaryd"], transitions, CORE,
     "in kanaryd/, only agent.c calls the rollout transitions"),
    (["kanaryd"], DP_WRITERS, CORE,
     "in kanaryd/, only agent.c calls the data path's writers"),
    (["lib"], transitions, {"lib/judge/"},
     "in lib/, only lib/judge/ calls the rollout transitions"),
    (["lib"], DP_WRITERS, {"lib/datapath/"},
     "in lib/, only lib/datapath/ calls the data path's writers"),
    (["kanaryctl", "modelserver"], transitions + DP_WRITERS, set(),
     "kanaryctl/ and modelserver/ call neither"),
]
for tops, names, allowed, what in check_list:
    bad = offenders(tops, names, allowed)
    check(not bad, what, bad)

def run_copy(plant):
    """Runs this checker over a copy of the tree with plant(dir) applied:
    its exit status and output."""
    tmp = tempfile.mkdtemp(prefix="kanary-core-calls-")
    try:
        for top in ["kanaryd", "lib", "kanaryctl", "modelserver"]:
            shutil.copytree(top, os.path.join(tmp, top))
        plant(tmp)
        r = subprocess.run(["bash", SCRIPT, "--root", tmp],
                           capture_output=True, text=True)
        return r.returncode, r.stdout.replace(tmp + "/", "")
    finally:
        shutil.rmtree(tmp)

def append(rel, code):
    def plant(tmp):
        with open(os.path.join(tmp, rel), "a", encoding="utf-8") as f:
            f.write(code)
    return plant

if self_test:
    cases = [
        ("kanaryd/health.c", "void planted(struct dataplane *dp)\n"
         "{\n\tdp_service_set_down(dp, 0, NULL, true);\n}\n"),
        ("kanaryd/scrape.c", "void planted(struct rollout_state *r)\n"
         "{\n\tuint32_t x;\n\trollout_rollback (r, \"\", 0, &x);\n}\n"),
        ("lib/metrics/promparse.c", "void planted(struct dataplane *dp)\n"
         "{\n\tdp_flush_backend_flows(dp, 0);\n}\n"),
    ]
    for rel, code in cases:
        status, out = run_copy(append(rel, code))
        caught = status != 0 and f"{rel}:" in out
        check(caught, f"a call planted in {rel} is caught",
              out.splitlines()[-8:])
    status, out = run_copy(append(
        "kanaryd/statefile.c",
        "/* dp_service_set_weight(dp, 0, 0) in a comment */\n"
        "static const char planted[] = \"rollout_abort(s, 0, &a)\";\n"))
    check(status == 0, "a name in a comment or a string is no call",
          out.splitlines()[-8:])

print(f"1..{n}")
sys.exit(1 if failed else 0)
PY

#!/usr/bin/env python3
# Generates a loader benchmark project: a layered DAG of N small elements (100
# per layer), each with 3 deps on the previous layer, two variables, a (?)
# conditional and a git source. Usage: gen_layered_dag.py N OUTDIR; the top
# layer's names are written to OUTDIR/targets.
import os, random, sys
n = int(sys.argv[1]); out = sys.argv[2]; width = 100
os.makedirs(out + "/elements", exist_ok=True)
open(out + "/project.conf", "w").write(
    "name: gen\nelement-path: elements\noptions:\n  debug:\n    type: bool\n    default: False\n")
random.seed(1)
for i in range(n):
    layer = i // width
    deps = []
    if layer > 0:
        prev = range((layer - 1) * width, layer * width)
        deps = random.sample(list(prev), 3)
    with open(f"{out}/elements/e{i}.bst", "w") as f:
        f.write("kind: manual\n")
        if deps:
            f.write("depends:\n" + "".join(f"- e{d}.bst\n" for d in deps))
        f.write(f"variables:\n  num: '{i}'\n  msg: 'element %{{num}} in %{{prefix}}'\n"
                "  (?):\n  - debug:\n      msg: debug\n")
        f.write("config:\n  build-commands:\n  - echo %{msg} > %{install-root}/out\n")
        f.write(f"sources:\n- kind: git\n  url: https://example.com/e{i}.git\n  ref: {i:040x}\n")
top = range(((n - 1) // width) * width, n)
open(out + "/targets", "w").write(" ".join(f"e{t}.bst" for t in top))

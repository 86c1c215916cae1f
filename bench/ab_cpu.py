#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ab_cpu.py RUNS "CMD A" "CMD B" ...: run the commands alternately RUNS times each and print the best and
# median CPU time (user+sys of the child) and the best wall time of each; for before/after comparisons on a
# loaded machine. Arguments of a command are split on single spaces.
import resource, subprocess, sys, time
def cpu(argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    w = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), w
runs = int(sys.argv[1]); cmds = sys.argv[2:]
pairs = [c.split(' ') for c in cmds]
res = {i: [] for i in range(len(pairs))}
for _ in range(runs):
    for i, a in enumerate(pairs):
        res[i].append(cpu(a))
for i, a in enumerate(pairs):
    c = sorted(x[0] for x in res[i]); w = sorted(x[1] for x in res[i])
    print("%-90s cpu best %.3f median %.3f  wall best %.3f" % (" ".join(a)[-90:], c[0], c[len(c)//2], w[0]))

#!/usr/bin/env python3
"""Checks a Chrome trace-event JSON file the way the viewers read it.

usage: check_chrome_trace.py FILE.json...

For each file, what DevTools' Performance panel and Perfetto's JSON importer
need to draw every slice, thread and flow arrow:
  - the document is one JSON object with a "traceEvents" list;
  - every process with an event is named (a process_name "M" event), the
    hypervisor's among them, and every thread with an event is named (a
    thread_name "M" event);
  - every slice ("X") has a positive duration, and the slices of a thread
    nest (a slice that starts inside another ends inside it too);
  - every flow event ("s", "t", "f") binds: DevTools binds it to the event
    of the same category, pid, tid and ts, so exactly one slice must match
    those; Perfetto to the innermost slice open at ts on that thread, which
    must be that same slice; "t" and "f" carry "bp":"e";
  - each flow (category, name, id) is one "s", any "t", one "f", at strictly
    increasing times (DevTools reads the phases in time order).
Prints one summary line per file ("ok FILE: ...") or every problem found,
and exits 1 if any file has a problem.
"""
import bisect
import json
import sys
from collections import defaultdict


def check(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    events = document.get("traceEvents") if isinstance(document, dict) else None
    if not isinstance(events, list):
        return ["no traceEvents list"], ""

    process_names = {}
    thread_names = {}
    slices = defaultdict(list)  # (pid, tid) -> [(ts, end, cat, name)]
    flows = defaultdict(list)  # (cat, name, id) -> [(ts, ph, pid, tid)]
    pids_used = set()
    threads_used = set()
    counters = 0
    for e in events:
        ph = e.get("ph")
        pid = e.get("pid")
        if ph == "M":
            if e.get("name") == "process_name":
                process_names[pid] = e["args"]["name"]
            elif e.get("name") == "thread_name":
                thread_names[(pid, e.get("tid"))] = e["args"]["name"]
            continue
        pids_used.add(pid)
        if ph == "C":
            counters += 1
            continue
        threads_used.add((pid, e.get("tid")))
        # Microseconds with 3 decimals: compare in integer nanoseconds.
        ts = round(e["ts"] * 1000)
        if ph == "X":
            dur = round(e["dur"] * 1000)
            if dur <= 0:
                problems.append(f"slice '{e['name']}' at {e['ts']} has no duration")
            slices[(pid, e.get("tid"))].append((ts, ts + dur, e.get("cat"), e["name"]))
        elif ph in ("s", "t", "f"):
            if ph != "s" and e.get("bp") != "e":
                problems.append(f"flow {e.get('id')} '{ph}' at {e['ts']} without bp=e")
            flows[(e.get("cat"), e.get("name"), e.get("id"))].append(
                (ts, ph, pid, e.get("tid")))
        else:
            problems.append(f"unexpected phase '{ph}' at {e.get('ts')}")

    for pid in sorted(pids_used):
        if pid not in process_names:
            problems.append(f"process {pid} has events but no process_name")
    if "hypervisor" not in process_names.values():
        problems.append("the hypervisor process is not named")
    for thread in sorted(threads_used):
        if thread not in thread_names:
            problems.append(f"thread {thread} has events but no thread_name")

    for thread, thread_slices in slices.items():
        thread_slices.sort(key=lambda s: (s[0], -s[1]))
        open_ends = []
        for start, end, _, name in thread_slices:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            if open_ends and end > open_ends[-1]:
                problems.append(f"slice '{name}' at {start} ns on {thread} overlaps its parent")
            open_ends.append(end)
    starts = {thread: [s[0] for s in ss] for thread, ss in slices.items()}

    points = 0
    for (cat, name, flow_id), phases in flows.items():
        phases.sort()
        kinds = "".join(p[1] for p in phases)
        if len(kinds) < 2 or kinds[0] != "s" or kinds[-1] != "f" or "s" in kinds[1:] \
                or "f" in kinds[:-1]:
            problems.append(f"flow {flow_id} '{name}' has phases '{kinds}'")
        times = [p[0] for p in phases]
        if any(b <= a for a, b in zip(times, times[1:])):
            problems.append(f"flow {flow_id} '{name}' has two points at one time")
        for ts, ph, pid, tid in phases:
            points += 1
            thread_slices = slices.get((pid, tid), [])
            same = [s for s in thread_slices if s[0] == ts and s[2] == cat]
            if len(same) != 1:
                problems.append(f"flow {flow_id} '{ph}' at {ts} ns on ({pid}, {tid}) binds to "
                                f"{len(same)} slices of category '{cat}' (DevTools)")
                continue
            bound = same[0]
            # The innermost slice open at ts: the latest-starting one that
            # contains it.
            i = bisect.bisect_right(starts[(pid, tid)], ts)
            open_at = [s for s in thread_slices[:i] if s[0] <= ts < s[1]]
            innermost = max(open_at, key=lambda s: (s[0], -s[1])) if open_at else None
            if innermost != bound:
                problems.append(f"flow {flow_id} '{ph}' at {ts} ns on ({pid}, {tid}): the "
                                f"slice open there is not the one it names (Perfetto)")

    summary = (f"{len(process_names)} processes, {len(thread_names)} threads, "
               f"{sum(len(s) for s in slices.values())} slices, {len(flows)} flows "
               f"({points} points bound), {counters} counter samples")
    return problems, summary


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failed = False
    for path in sys.argv[1:]:
        problems, summary = check(path)
        if problems:
            failed = True
            for problem in problems[:20]:
                print(f"{path}: {problem}")
            if len(problems) > 20:
                print(f"{path}: ... and {len(problems) - 20} more")
        else:
            print(f"ok {path}: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

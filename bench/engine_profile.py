#!/usr/bin/env python3
"""Where the CPU of scenario runs goes, from a perf profile of `vmbus-sim run`.

Usage (as root, or with perf_event_paranoid <= 1 for the kernel's share):
  perf record -e cpu-clock -F 4000 -g -o run.data -- \
      BUILD/bin/vmbus-sim run scenarios --seeds 1..2 --jobs 1 --quiet
  perf script -i run.data -F comm,ip,sym,dso | bench/engine_profile.py [--other]

Every sample's call chain (leaf first) is put in the first category below
whose keys one of its frames contains, per process (vmbus-sim, vmbus-host,
vmbus-guest) and over all of them; --other also lists the most frequent
leaves nothing matched. The builds have no frame pointers, so user-space
chains are often one frame deep: that is why the dynamic linker is told by
its library (ld-linux) rather than by a caller. See docs/PERFORMANCE.md.
"""
import sys, collections
rules = [
 ("exec + ELF load (kernel)", ["execve"]),
 ("fork/clone + child's pre-exec work in vmbus-sim", ["kernel_clone", "ChildProcess", "_Fork", "__libc_fork", "prctl@plt", "__malloc_fork_unlock_child", "dup_mmap", "copy_process"]),
 ("dynamic linking: ld.so (symbol lookup, relocation, its faults/mmap/mprotect)", ["ld-linux-x86-64"]),
 ("process exit / mm teardown", ["do_exit", "exit_mmap", "__mmput", "do_group_exit", "_dl_fini", "__run_exit_handlers", "__x64_sys_exit"]),
 ("copy-on-write faults (after fork)", ["do_wp_page"]),
 ("IPC: unix socket send/recv, epoll, timerfd, context switches", ["unix_stream", "sock_", "epoll", "__schedule", "schedule", "futex", "timerfd", "__libc_recv", "__send", "asio"]),
 ("shared memory set-up (memfd, mmap, munmap, zeroing)", ["memfd", "ftruncate", "shm_open", "do_mmap", "__vm_munmap", "vm_mmap", "initialize_ring", "shm::"]),
 ("protobuf / malloc / libstdc++ (static initialisers, frame parsing)", ["libprotobuf", "libstdc++", "google::protobuf", "std::", "__cxa_", "_Unwind", "_int_malloc", "_int_free", "malloc", "sysmalloc", "alloc_new_heap", "cfree", "libgcc_s"]),
 ("page faults elsewhere (first touch of heap, stack, binary)", ["exc_page_fault"]),
 ("vmbus code itself", ["vmbus-sim)", "vmbus-host)", "vmbus-guest)", "vmbus::"]),
]
counts = collections.Counter(); total = collections.Counter(); unk=collections.Counter()
def flush(comm, frames):
    if comm is None: return
    total[comm] += 1
    for name, keys in rules:
        if any(k in f for f in frames for k in keys):
            counts[(comm, name)] += 1; return
    counts[(comm, "other")] += 1
    unk[(comm, frames[0] if frames else "")] += 1
comm=None; frames=[]
for line in sys.stdin:
    if not line.strip():
        flush(comm, frames); comm=None; frames=[]; continue
    if not line.startswith((' ', '\t')):
        comm = line.split()[0]; frames=[]
    else:
        parts=line.split(None,1)
        if len(parts)>1: frames.append(parts[1].strip())
flush(comm, frames)
allt = sum(total.values())
agg=collections.Counter()
for (c,n),v in counts.items(): agg[n]+=v
print("all processes:")
for n,v in agg.most_common(): print(f"   {100*v/allt:5.1f}%  {n}")
for comm in sorted(total):
    print(f"{comm}: {100*total[comm]/allt:.1f}% of all samples")
    for (c,n),v in sorted(counts.items(), key=lambda x:-x[1]):
        if c==comm: print(f"   {100*v/allt:5.1f}%  {n}")
if "--other" in sys.argv[1:]:
    for k,v in unk.most_common(25): print(v,k)

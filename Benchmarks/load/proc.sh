# Sourced by Benchmarks/load/run, ab and flush-sql: the one place the scripts read a process's CPU from /proc.

# proc_cpu_ticks PID…: "USER SYSTEM", utime and stime (clock ticks) summed over the given pids, all threads of each,
# both from one read of each pid's /proc/PID/stat, so that the two parts are of the same instant. A pid that has
# exited counts 0 (a backend that ends within a window takes its ticks with it). The user part is where a server's
# own code runs; the system part is mostly loopback TCP and epoll here, the same for any server.
proc_cpu_ticks() {
  local user=0 system=0 pid u s
  for pid in "$@"; do
    u=0 s=0
    read -r u s < <(awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$pid/stat" 2>/dev/null) || true
    user=$((user + ${u:-0}))
    system=$((system + ${s:-0}))
  done
  echo "$user $system"
}

# proc_ticks PID…: utime+stime, summed the same way.
proc_ticks() {
  local user system
  read -r user system <<<"$(proc_cpu_ticks "$@")"
  echo $((user + system))
}

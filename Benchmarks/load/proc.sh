# Sourced by Benchmarks/load/run, ab and flush-sql: the one place the scripts read a process's CPU from /proc.

# utime+stime (clock ticks) summed over the given pids, all threads of each; a pid that has exited counts 0 (a
# backend that ends within a window takes its ticks with it).
proc_ticks() { stat_ticks '$12 + $13' "$@"; }

# utime alone, summed the same way: the user-space part of proc_ticks, where a server's own code runs (the kernel's
# part, stime, is mostly loopback TCP and epoll, the same for any server here).
proc_user_ticks() { stat_ticks '$12' "$@"; }

# stat_ticks EXPR PID…: an awk expression over /proc/PID/stat's fields after the command name, summed over the pids.
stat_ticks() {
  local expr=$1 total=0 pid t
  shift
  for pid in "$@"; do
    t="$(awk "{ sub(/^.*\\) /, \"\"); print $expr }" "/proc/$pid/stat" 2>/dev/null)"
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

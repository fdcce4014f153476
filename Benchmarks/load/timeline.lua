-- wrk script: answers completed per millisecond, to see *when* a server stalls, which wrk's percentiles cannot say.
--
--   WRK_PATHS=file TIMELINE=out.txt [WRK_EXPECT=302] wrk -t1 -c64 -d8s -s Benchmarks/load/timeline.lua http://127.0.0.1:18180
--
-- Requests, as in paths.lua (loaded from beside this file), round-robin over the paths of WRK_PATHS. Each line of TIMELINE is
-- `MILLISECOND COUNT` (CLOCK_MONOTONIC, the clock `perf sched timehist` prints, so a dip lines up with what ran on
-- the cores then); a millisecond with no answer has no line. The last half-second may be missing (written in
-- blocks). With c=64 a steady server completes about req/s ÷ 1000 each millisecond; a flush that stalls it shows as
-- a run of low or missing milliseconds every period. One wrk thread only (-t1): the file is opened per thread.
--
-- It is how the play flush's stalls were found (Benchmarks/load/results/issue-17.md, Where the tail comes from):
-- at 70,000 req/s, 150–200 ms of low milliseconds every 2.1 s, matched by `perf sched` to the flush's runs of
-- 4–8 ms on the gateway's core.
-- Its own LuaJIT garbage collection shows as short dips every ~80 ms, with any server.
local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } usher_timespec;
  int clock_gettime(int clock, usher_timespec *out);
]])
local CLOCK_MONOTONIC = 1
local now = ffi.new("usher_timespec")
local function millisecond()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000 + math.floor(tonumber(now.tv_nsec) / 1e6)
end

-- Requests, status checks and the summary are paths.lua's (WRK_PATHS, WRK_EXPECT); this adds the timeline.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "paths.lua")
local paths_init, paths_response = init, response

local out, current, answered, lines = nil, -1, 0, {}

function init(args)
  paths_init(args)
  out = assert(io.open(os.getenv("TIMELINE") or error("TIMELINE is not set"), "w"))
end

function response(status, headers, body)
  local t = millisecond()
  if t ~= current then
    if current >= 0 then lines[#lines + 1] = current .. " " .. answered end
    if #lines >= 500 then
      out:write(table.concat(lines, "\n"), "\n")
      out:flush()
      lines = {}
    end
    current, answered = t, 0
  end
  answered = answered + 1
  paths_response(status, headers, body)
end

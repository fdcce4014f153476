-- wrk script for Benchmarks/load/run: GET requests spread over the paths of a file, one path a line
-- (each a /v/{id}?token=JWT, or an nginx /r/… or /s/…?md5=…&expires=… link), in file order, round robin; a line
-- may add headers after a tab (`PATH<TAB>X-Forwarded-For: 198.18.0.1`).
--
--   WRK_PATHS=file [WRK_JSON=out.json] [WRK_EXPECT=302] wrk -t1 -c64 -d10s --latency -s paths.lua http://127.0.0.1:18080
--
-- Every response whose status is not WRK_EXPECT (302) is counted by status and one body is kept as a sample
-- (wrk's own "Non-2xx or 3xx responses" counts only >= 400, so a 200 would pass unnoticed there).
-- done() writes one JSON object to WRK_JSON: requests, duration, errors, the unexpected statuses and the
-- latency distribution at many percentiles (microseconds), for the report and the plot.

local paths_file = os.getenv("WRK_PATHS")
local json_file = os.getenv("WRK_JSON")
local expect = tonumber(os.getenv("WRK_EXPECT") or "302")

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

-- Per-thread state (each wrk thread has its own Lua state).
local requests, count, cursor = {}, 0, 0
local codes = {}
unexpected = 0
unexpected_codes = ""
sample = ""

function init(args)
  if not paths_file then error("WRK_PATHS is not set") end
  for line in io.lines(paths_file) do
    if #line > 0 then
      -- A line may carry headers after the path: PATH<TAB>Name: value<TAB>Name: value
      local path, rest = string.match(line, "^([^\t]*)\t?(.*)$")
      local headers = {}
      for name, value in string.gmatch(rest, "([^\t:]+):%s*([^\t]*)") do headers[name] = value end
      count = count + 1
      requests[count] = wrk.format("GET", path, headers) -- formatted once; request() only picks one
    end
  end
  if count == 0 then error("no paths in " .. paths_file) end
end

function request()
  cursor = cursor + 1
  if cursor > count then cursor = 1 end
  return requests[cursor]
end

function response(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
    codes[status] = (codes[status] or 0) + 1
    local parts = {}
    for code, n in pairs(codes) do parts[#parts + 1] = code .. ":" .. n end
    table.sort(parts)
    unexpected_codes = table.concat(parts, ",")
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

local percentiles = {}
for p = 1, 99 do percentiles[#percentiles + 1] = p end
for _, p in ipairs({ 99.1, 99.2, 99.3, 99.4, 99.5, 99.6, 99.7, 99.8, 99.9, 99.95, 99.99, 99.999 }) do
  percentiles[#percentiles + 1] = p
end

function done(summary, latency, requests)
  local bad, bad_codes, bad_sample = 0, {}, ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
    local c = thread:get("unexpected_codes") or ""
    if c ~= "" then bad_codes[#bad_codes + 1] = c end
    local s = thread:get("sample") or ""
    if bad_sample == "" then bad_sample = s end
  end
  local e = summary.errors
  local out = {}
  out[#out + 1] = string.format('"requests":%d,"duration_us":%d,"bytes":%d', summary.requests, summary.duration, summary.bytes)
  out[#out + 1] = string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
    e.connect, e.read, e.write, e.status, e.timeout)
  out[#out + 1] = string.format('"expected_status":%d,"unexpected":%d,"unexpected_codes":%s,"unexpected_sample":%s',
    expect, bad, json_string(table.concat(bad_codes, ";")), json_string(bad_sample))
  local ps = {}
  for _, p in ipairs(percentiles) do
    ps[#ps + 1] = string.format("[%s,%d]", tostring(p), latency:percentile(p))
  end
  out[#out + 1] = string.format('"latency_us":{"min":%d,"mean":%.2f,"stdev":%.2f,"max":%d,"percentiles":[%s]}',
    latency.min, latency.mean, latency.stdev, latency.max, table.concat(ps, ","))
  local line = "{" .. table.concat(out, ",") .. "}"
  if json_file and json_file ~= "" then
    local f = assert(io.open(json_file, "w"))
    f:write(line, "\n")
    f:close()
  end
  io.write(string.format("unexpected (non-%d) responses: %d %s\n", expect, bad, table.concat(bad_codes, ";")))
end

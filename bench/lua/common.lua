-- Shared by every bench script (prepended by bench/wrk.py): thread ids, and a done() that
-- prints one machine-readable line the harness parses.
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function thread_sum(name)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + (tonumber(t:get(name)) or 0)
  end
  return n
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"failures":%d,"starved":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean,
    thread_sum("failures"), thread_sum("starved")))
end

-- Lines of a file, for this thread only (line i goes to thread i mod threads).
function my_lines(path, threads_total)
  local mine = {}
  local i = 0
  for line in io.lines(path) do
    if line ~= "" then
      if i % threads_total == id then table.insert(mine, line) end
      i = i + 1
    end
  end
  return mine
end

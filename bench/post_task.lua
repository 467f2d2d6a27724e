-- wrk script for the mcpd load benchmark: POST /v1/tasks with a JSON body.
--
--   wrk -t2 -c16 -d10s -s bench/post_task.lua http://127.0.0.1:PORT/v1/tasks
--   wrk ... -s bench/post_task.lua URL -- '{"capability":"echo","input":{}}'
--
-- The optional script argument replaces the body. At the end one line,
-- easy to parse, sums up the run (latencies in milliseconds):
--
--   WRK_RESULT requests=N ok=N non2xx=N duration_s=F rps=F tasks_per_s=F
--     p50_ms=F p90_ms=F p99_ms=F max_ms=F mean_ms=F err_connect=N
--     err_read=N err_write=N err_timeout=N
--
-- "ok" counts 2xx answers (tasks acknowledged); "non2xx" every other status,
-- counted here because wrk's own "Non-2xx or 3xx responses" skips 3xx.
-- tasks_per_s is ok / duration; rps counts every answer. Latencies are
-- wrk's (with its correction for coordinated omission).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"capability":"echo","input":{"text":"hello from wrk","n":42,"tags":["a","b"]}}'
if wrk.path == nil or wrk.path == "" or wrk.path == "/" then
   wrk.path = "/v1/tasks"
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Per-thread counters: globals of each thread's Lua state, read in done().
ok = 0
non2xx = 0

function init(args)
   if args[1] ~= nil and args[1] ~= "" then
      wrk.body = args[1]
   end
   -- wrk built the request before init; rebuild it with the body we use.
   req = wrk.format(nil, wrk.path, nil, wrk.body)
end

function request()
   return req
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local n_ok, n_bad = 0, 0
   for _, t in ipairs(threads) do
      n_ok = n_ok + (t:get("ok") or 0)
      n_bad = n_bad + (t:get("non2xx") or 0)
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "WRK_RESULT requests=%d ok=%d non2xx=%d duration_s=%.3f rps=%.1f " ..
      "tasks_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
      "mean_ms=%.3f err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
      summary.requests, n_ok, n_bad, secs,
      secs > 0 and summary.requests / secs or 0,
      secs > 0 and n_ok / secs or 0,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
      e.connect, e.read, e.write, e.timeout))

   -- With WRK_LATENCY_FILE set, also write the whole latency histogram there,
   -- one "microseconds count" line per distinct value, so that runs can be
   -- merged and their percentiles computed exactly (bench/run.sh does).
   local path = os.getenv("WRK_LATENCY_FILE")
   if path and path ~= "" then
      local f = assert(io.open(path, "w"))
      for i = 1, #latency do
         local us, count = latency(i)
         f:write(string.format("%d %d\n", us, count))
      end
      f:close()
   end
end

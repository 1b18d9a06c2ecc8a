-- wrk script of the edge benchmark (bench/edge): every request asks for a
-- random code of the codes file given after `--`, one code per line. The
-- same script drives the shortify instance and the static redirect, so
-- both see the same client-side work. The requests are formatted once, in
-- init, so that the client spends as little CPU per request as it can: on
-- a two-core machine wrk shares the cores with the server it measures.
--
-- done() prints one machine-readable line, which the harness parses
-- (latencies in microseconds).

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local reqs = {}
local n = 0

function init(args)
   local path = args[1]
   if path == nil then
      error("codes.lua: give the codes file after --")
   end
   for line in io.lines(path) do
      if line ~= "" then
         n = n + 1
         reqs[n] = wrk.format("GET", "/" .. line)
      end
   end
   if n == 0 then
      error("codes.lua: no codes in " .. path)
   end
   math.randomseed(os.time() * 1000 + id)
end

function request()
   return reqs[math.random(n)]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

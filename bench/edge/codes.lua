-- wrk script of the edge benchmark (bench/edge): every request asks for a
-- random link of the codes file given after `--`, one link per line: the
-- Host header and the code, separated by a space. The own host name
-- follows the file (`-- codes.txt s.bench.example`): requests with any
-- other Host count as custom-domain requests. The same script drives the
-- shortify instance and the static redirect, so both see the same
-- client-side work. The requests are formatted once, in init, so that the
-- client spends as little CPU per request as it can: on a two-core
-- machine wrk shares the cores with the server it measures.
--
-- done() prints one machine-readable line, which the harness parses
-- (latencies in microseconds; sent and custom: the requests formatted,
-- and of them those on a custom domain).

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local reqs = {}
local custom = {}
local n = 0
sent = 0
oncustom = 0

function init(args)
   local path, own = args[1], args[2]
   if path == nil or own == nil then
      error("codes.lua: give the codes file and the own host after --")
   end
   for line in io.lines(path) do
      if line ~= "" then
         local host, code = line:match("^(%S+) (%S+)$")
         if host == nil then
            error("codes.lua: want \"HOST CODE\" in " .. path .. ", got " .. line)
         end
         n = n + 1
         reqs[n] = wrk.format("GET", "/" .. code, { Host = host })
         custom[n] = host ~= own
      end
   end
   if n == 0 then
      error("codes.lua: no codes in " .. path)
   end
   math.randomseed(os.time() * 1000 + id)
end

function request()
   local i = math.random(n)
   sent = sent + 1
   if custom[i] then
      oncustom = oncustom + 1
   end
   return reqs[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   local s, c = 0, 0
   for _, t in ipairs(threads) do
      s = s + (t:get("sent") or 0)
      c = c + (t:get("oncustom") or 0)
   end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d status=%d timeout=%d sent=%d custom=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, s, c))
end

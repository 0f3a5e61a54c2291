-- wrk script for bench/ingest.sh: POSTs Graph event JSON to /api/webhook/event/created,
-- every request with an event id of its own (PREFIX-<thread>-<n>: a counter per thread and
-- the thread's number, so ids never repeat across threads), and counts the answers by
-- status. Arguments (after `--`): SOURCE_KEY SOURCE_ID [PREFIX]
--
--   wrk -t2 -c32 -d10s --latency -s bench/ingest.lua http://127.0.0.1:PORT/api/webhook/event/created \
--       -- cps_... bench EVT
--
-- done() prints machine-readable lines for the script (all times in microseconds):
--   INGEST duration_us=... requests=... sent=... p50_us=... p90_us=... p99_us=... max_us=...
--   INGEST errors connect=... read=... write=... status=... timeout=...
--   INGEST status=<code> count=<n>        (one line per status seen)

local threads = {}
local next_tid = 1

function setup(thread)
    thread:set("tid", next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

function init(args)
    local key, source = args[1], args[2]
    prefix = args[3] or "EVT"
    if key == nil or source == nil then
        error("usage: wrk ... -s ingest.lua URL -- SOURCE_KEY SOURCE_ID [PREFIX]")
    end
    n = 0
    statuses = {}
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-Calendar-Source"] = source
    wrk.headers["X-API-Key"] = key
end

local template = '{"id":"%s","iCalUId":"UID-%s","subject":"Bench %s",'
    .. '"start":{"dateTime":"2027-01-%02dT%02d:00:00.0000000","timeZone":"W. Europe Standard Time"},'
    .. '"end":{"dateTime":"2027-01-%02dT%02d:30:00.0000000","timeZone":"W. Europe Standard Time"},'
    .. '"lastModifiedDateTime":"2026-12-02T10:00:00Z"}'

function request()
    n = n + 1
    local id = string.format("%s-%d-%d", prefix, tid, n)
    local day, hour = n % 28 + 1, 8 + n % 10
    local body = string.format(template, id, id, id, day, hour, day, hour)
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local sent, counts = 0, {}
    for _, thread in ipairs(threads) do
        sent = sent + (thread:get("n") or 0)
        local s = thread:get("statuses") or {}
        for code, count in pairs(s) do
            counts[code] = (counts[code] or 0) + count
        end
    end
    io.write(string.format(
        "INGEST duration_us=%d requests=%d sent=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
        summary.duration, summary.requests, sent, latency:percentile(50.0),
        latency:percentile(90.0), latency:percentile(99.0), latency.max))
    local e = summary.errors
    io.write(string.format("INGEST errors connect=%d read=%d write=%d status=%d timeout=%d\n",
        e.connect, e.read, e.write, e.status, e.timeout))
    for code, count in pairs(counts) do
        io.write(string.format("INGEST status=%d count=%d\n", code, count))
    end
end

-- wrk script for `make bench`: POST one donation per request (bench/run.py drives it).
--
-- The body is the same every time (no reference, so no duplicate check).
-- BENCH_API_KEY, BENCH_FUND_CODE and BENCH_RECEIVED_ON come from the
-- environment. `done` prints one line, "BENCH_JSON {...}", with the latency
-- percentiles (microseconds), wrk's socket errors and a count per HTTP status.
-- With BENCH_WRK_GET=1 it sends plain GETs to the URL instead (balance reads).

local key = os.getenv("BENCH_API_KEY") or error("BENCH_API_KEY is not set")
wrk.headers["Authorization"] = "Bearer " .. key

if os.getenv("BENCH_WRK_GET") ~= "1" then
    local fund = os.getenv("BENCH_FUND_CODE") or error("BENCH_FUND_CODE is not set")
    local received_on = os.getenv("BENCH_RECEIVED_ON") or error("BENCH_RECEIVED_ON is not set")
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"fund_code":"' .. fund .. '","amount":"100.00","currency":"CNY",'
        .. '"donor":{"name":"铜陵某某有限公司","kind":"enterprise","anonymous":false},'
        .. '"received_on":"' .. received_on .. '","channel":"bank","purpose":"助学助困"}'
end

-- Per thread (each wrk thread has its own Lua state): responses by status.
statuses = {}

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

-- In the main state: remember the threads, to collect their counts in `done`.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    local codes = {}
    for _, thread in ipairs(threads) do
        local counted = thread:get("statuses")
        if counted then
            for status, n in pairs(counted) do
                codes[status] = (codes[status] or 0) + n
            end
        end
    end
    local parts = {}
    for status, n in pairs(codes) do
        parts[#parts + 1] = string.format('"%d":%d', status, n)
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,'
        .. '"socket_errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f},"non_2xx_3xx":%.0f,'
        .. '"latency_us":{"min":%.0f,"mean":%.1f,"stdev":%.1f,"max":%.0f,'
        .. '"p50":%.0f,"p75":%.0f,"p90":%.0f,"p99":%.0f,"p99_9":%.0f},"status_codes":{%s}}\n',
        summary.duration, summary.requests, summary.bytes,
        e.connect, e.read, e.write, e.timeout, e.status,
        latency.min, latency.mean, latency.stdev, latency.max,
        latency:percentile(50), latency:percentile(75), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9),
        table.concat(parts, ",")))
end

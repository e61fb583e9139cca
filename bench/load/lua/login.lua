-- POST /login, password grant for the demo account ($DEMO_PASSWORD, URL-safe); prints one
-- RESULT line (latencies in µs).
wrk.method = "POST"
wrk.body = "grant_type=password&username=demo&password=" .. os.getenv("DEMO_PASSWORD")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f non2xx=%d sockerr=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

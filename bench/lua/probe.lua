-- A paced latency probe: GET {{PATH}} with a Bearer token every {{DELAY_MS}} ms per connection,
-- so it measures the server's latency without loading it.
wrk.method = "GET"
wrk.path = "{{PATH}}"
wrk.headers["Authorization"] = "Bearer {{TOKEN}}"

function delay()
  return {{DELAY_MS}}
end

-- Rotation chains: each thread owns a queue of refresh tokens (one per connection). A request
-- takes a token from the queue and its response puts the successor back, so no token is ever
-- presented twice and each connection follows a chain. A connection that finds the queue empty
-- (a lost response) sends a request that fails and is counted as "starved".
local queue = {}
failures = 0
starved = 0

function init(args)
  queue = my_lines("{{TOKENS_FILE}}", {{THREADS}})
  -- wrk calls request() once on the first thread's state to check the script, and never sends
  -- that request: give it a placeholder so no real token is taken out of its chain.
  if id == 0 then table.insert(queue, "wrk-verify-placeholder") end
end

local function encode(token)
  if "{{MODE}}" == "bearer" then
    return wrk.format("POST", "{{PATH}}", {["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json"}, "{}")
  end
  return wrk.format("POST", "{{PATH}}", {["Content-Type"] = "application/json"},
    '{"{{BODY_KEY}}":"' .. token .. '"}')
end

function request()
  local token = table.remove(queue)
  if token == nil then
    starved = starved + 1
    return encode("starved")
  end
  return encode(token)
end

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    return
  end
  local token = body:match('"{{RESP_KEY}}"%s*:%s*"([^"]+)"')
  if token then
    table.insert(queue, 1, token)
  else
    failures = failures + 1
  end
end

-- Logins, rotating over the pre-created users (one "email password" per line).
local users = {}
local n = 0
failures = 0
starved = 0

function init(args)
  for _, line in ipairs(my_lines("{{USERS_FILE}}", {{THREADS}})) do
    local email, password = line:match("^(%S+)%s+(%S+)$")
    table.insert(users, '{"{{EMAIL_KEY}}":"' .. email .. '","password":"' .. password .. '"}')
  end
end

function request()
  n = n + 1
  return wrk.format("POST", "{{PATH}}", {["Content-Type"] = "application/json"},
    users[(n % #users) + 1])
end

function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end

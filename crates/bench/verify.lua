-- wrk script: POST /api/v1/verify (or a header check for nginx) cycling through the secrets
-- of $BENCH_KEYS, one per line, starting at a random offset per thread.
local keys = {}
local i = 1
local mode = os.getenv("BENCH_MODE") or "verify"
local token = os.getenv("BENCH_TOKEN") or "bench-gateway-token"
function init(args)
  for line in io.lines(os.getenv("BENCH_KEYS")) do keys[#keys + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 1000)
  i = math.random(#keys)
end
function request()
  i = i % #keys + 1
  local k = keys[i]
  if mode == "nginx" then
    return wrk.format("GET", "/check", { ["X-Secret"] = k })
  elseif mode == "usage" then
    return wrk.format("POST", "/api/v1/usage/events",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"events":[{"credential_id":"' .. k .. '","endpoint":"GET /accounts","status":200}]}')
  end
  return wrk.format("POST", "/api/v1/verify",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    '{"secret":"' .. k .. '","endpoint":"GET /accounts"}')
end

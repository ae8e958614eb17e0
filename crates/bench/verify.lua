-- wrk script: POST /api/v1/verify (or a header check for nginx, usage events, a webhook
-- delivery, a keyed call through a gateway: $BENCH_MODE) cycling through the lines of $BENCH_KEYS (secrets, or credential ids
-- for usage), starting at a random offset per thread.
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
  elseif mode == "gateway" then
    -- A caller of the API behind a gateway (I): the key as a bearer token.
    return wrk.format("GET", "/accounts", { ["Authorization"] = "Bearer " .. k })
  elseif mode == "usage_batch" then
    -- 50 events per request, each for the next credential of the list.
    local ev = {}
    for _ = 1, 50 do
      ev[#ev + 1] = '{"credential_id":"' .. keys[i] .. '","endpoint":"GET /accounts","status":200}'
      i = i % #keys + 1
    end
    return wrk.format("POST", "/api/v1/usage/events",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"events":[' .. table.concat(ev, ",") .. ']}')
  elseif mode == "webhook" then
    -- What the delivery worker sends: a signed test event (the receiver checks nothing).
    return wrk.format("POST", "/hook",
      { ["Content-Type"] = "application/json", ["webhook-id"] = "msg_01JBENCH0000000000000000",
        ["webhook-timestamp"] = "1764547200",
        ["webhook-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" },
      '{"type":"test","timestamp":"2026-12-01T00:00:00.000Z","data":{"endpoint_id":"whep_01JBENCH0000000000000000","message":"A test event from the portal."}}')
  elseif mode == "usage" then
    return wrk.format("POST", "/api/v1/usage/events",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
      '{"events":[{"credential_id":"' .. k .. '","endpoint":"GET /accounts","status":200}]}')
  end
  return wrk.format("POST", "/api/v1/verify",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    '{"secret":"' .. k .. '","endpoint":"GET /accounts"}')
end

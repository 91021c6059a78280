-- wrk script: POST one chat completion per request and check each answer.
-- Arguments after "--": <model> <api key> <stream: 1 or 0>.
-- Prints one line "BENCH {json}" with the request count, duration, p50/p99 latency, errors and
-- the HTTP status of the last failed answer (0 if none failed on its status).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local model, key, stream = args[1], args[2], args[3] == "1"
  local body = '{"model":"' .. model .. '","messages":[{"role":"user",'
    .. '"content":"Say hello in five words."}],"max_tokens":16'
  if stream then
    body = body .. ',"stream":true,"stream_options":{"include_usage":true}'
    expected = "data: [DONE]"
  else
    expected = '"chat.completion"'
  end
  body = body .. "}"
  bad = 0
  bad_status = 0
  req = wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

function request()
  return req
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    bad_status = status
  elseif not string.find(body, expected, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total, bad_status = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    if thread:get("bad_status") ~= 0 then
      bad_status = thread:get("bad_status")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,'
      .. '"bad_status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad_total + e.connect + e.read + e.write + e.timeout, bad_status
  ))
end

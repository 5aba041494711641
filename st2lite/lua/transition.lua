-- Move one execution to a new status, atomically with everything that goes with it.
--
-- KEYS[1] execution hash   KEYS[2] lease sorted set   KEYS[3] audit stream   KEYS[4] trigger stream
-- KEYS[5] chain event stream (a completed execution with a parent tells it there, for its chain to go on)
-- ARGV[1] execution id     ARGV[2] target status      ARGV[3] allowed current statuses, comma-separated
-- ARGV[4] timestamp (ISO)  ARGV[5] JSON object of hash fields to set (string values)
-- ARGV[6] audit event JSON, with "__PREVIOUS__" where the previous status goes
-- ARGV[7] trigger instance JSON to emit (several: one per line), or ""     ARGV[8] audit maxlen
-- ARGV[9] trigger maxlen
-- ARGV[10] status index key prefix                  ARGV[11] lease deadline score, "" to drop the lease
-- ARGV[12] "1" to delete the stored secrets
-- ARGV[13] audit event JSON of each emitted trigger instance (one per line), or ""
-- ARGV[14] "1" to return the execution's fields after the change (a worker claiming it)
-- KEYS[6] request stream   KEYS[7] retries due (sorted set)   KEYS[8] retry secrets (hash)
-- KEYS[9] SLA deadlines (sorted set)   KEYS[10] slot prefixes with waiters (set)   KEYS[11] arrival counter
-- ARGV[15] concurrency slots to take (target 'scheduled' only), JSON list of {k: slot key prefix,
--   n: threshold, c: cancel message ("" to delay), p: policy ref}, or "": when one is full (or others wait
--   before this execution), the target becomes 'delayed' (queued by arrival) or, for a cancel policy, 'canceled'
-- ARGV[16] actor (for the policy audit events)   ARGV[17] when to retry it (epoch s), or ""
-- ARGV[18] its SLA deadline (epoch ms), recorded when it moves to a status not completed, or ""
-- Completing an execution also releases its slots (waking the next waiter through the request stream),
-- drops its SLA deadline when it is not yet due, and, with ARGV[17], queues its retry.
-- Returns {1, previous status[, fields]} when moved, {0, current status} when not allowed, {0, ""} when missing;
-- with ARGV[15], {1, previous status, status reached}.
-- ARGV[19] one more audit event JSON to append with the change (an inquiry answered...), or ""
-- KEYS[12] metrics hash: a completion bumps 'done|<action>|<status>' and, for an execution that ran
--   (has 'start'), the duration histogram: 'b|<bucket index>' ('b|inf' above the last), 'sum'
local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return {0, ''}
end
local allowed = false
for status in string.gmatch(ARGV[3], '[^,]+') do
  if status == current then
    allowed = true
    break
  end
end
if not allowed then
  return {0, current}
end
local fields = cjson.decode(ARGV[5])
local target, completing, audit = ARGV[2], ARGV[12] == '1', nil
local id_prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
local HOLDING = {scheduled = true, running = true, canceling = true, pending = true, pausing = true,
  paused = true, resuming = true}

-- Seconds since the epoch of an ISO 8601 UTC timestamp as now_iso() writes it (Howard Hinnant's days_from_civil).
local function epoch_seconds(iso)
  local y, m, d, hh, mm, ss = string.match(iso, '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d%.]+)')
  if not y then
    return nil
  end
  y, m = tonumber(y), tonumber(m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

-- Upper bounds (seconds) of the execution duration histogram's buckets; st2lite/metrics.py has the same list.
local BUCKETS = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

local function record_completion(status, ended_at)
  local doc = redis.call('HGET', KEYS[1], 'doc')
  -- The document starts {"id":...,"action":...} (orjson keeps the order): read the action without decoding it all.
  local action = doc and (string.match(doc, '^{"id":"[^"]*","action":"([^"]*)"') or cjson.decode(doc)['action']) or ''
  redis.call('HINCRBY', KEYS[12], 'done|' .. action .. '|' .. status, 1)
  local started_at = redis.call('HGET', KEYS[1], 'start')
  local started, ended = started_at and epoch_seconds(started_at), epoch_seconds(ended_at)
  if not (started and ended) then
    return
  end
  local seconds = math.max(0, ended - started)
  local bucket = 'inf'
  for i, bound in ipairs(BUCKETS) do
    if seconds <= bound then
      bucket = tostring(i)
      break
    end
  end
  redis.call('HINCRBY', KEYS[12], 'b|' .. bucket, 1)
  redis.call('HINCRBYFLOAT', KEYS[12], 'sum', string.format('%.6f', seconds))
end

local function policy_event(kind, data, message)
  local event = {at = ARGV[4], kind = kind, actor = ARGV[16], execution = ARGV[1], data = data, message = message}
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', cjson.encode(event))
end

-- The oldest waiter still delayed (stale entries, canceled meanwhile, are dropped).
local function head(queue)
  while true do
    local first = redis.call('ZRANGE', queue, 0, 0)[1]
    if not first or redis.call('HGET', id_prefix .. first, 'status') == 'delayed' then
      return first
    end
    redis.call('ZREM', queue, first)
  end
end

-- Wake the waiters that fit in the free slots: their ids go back on the request stream.
local function wake(prefix, free)
  local woken = redis.call('ZRANGE', prefix .. ':queue', 0, free - 1)
  for _, waiter in ipairs(woken) do
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[9], '*', 'x', waiter)
  end
end

if ARGV[15] ~= '' then
  local slots = cjson.decode(ARGV[15])
  local cancel, delay, blocked = nil, nil, {}
  for _, slot in ipairs(slots) do
    local members = slot.k .. ':slots'
    if redis.call('SCARD', members) >= slot.n then
      for _, holder in ipairs(redis.call('SMEMBERS', members)) do
        if not HOLDING[redis.call('HGET', id_prefix .. holder, 'status') or ''] then
          redis.call('SREM', members, holder)
        end
      end
    end
    local first = head(slot.k .. ':queue')
    if redis.call('SCARD', members) >= slot.n or (first and first ~= ARGV[1]) then
      if slot.c ~= '' then cancel = cancel or slot else delay = delay or slot end
      blocked[#blocked + 1] = slot
    end
  end
  if cancel then
    target, completing = 'canceled', true
    fields['result'] = cjson.encode({message = cancel.c, policy = cancel.p})
    fields['end'] = ARGV[4]
    audit = cjson.encode({at = ARGV[4], kind = 'execution.status', actor = ARGV[16], execution = ARGV[1],
      status = target, previous_status = current, message = cancel.c})
  elseif delay then
    -- It waits in the queues of the counts that hold it back only, so it holds up no other count.
    local waits = redis.call('HGET', KEYS[1], 'waits') or ''
    for _, slot in ipairs(blocked) do
      local queue = slot.k .. ':queue'
      if not redis.call('ZSCORE', queue, ARGV[1]) then
        redis.call('ZADD', queue, redis.call('INCR', KEYS[11]), ARGV[1])
        waits = waits .. queue .. '\n'
      end
      redis.call('SADD', KEYS[10], slot.k)
    end
    redis.call('HSET', KEYS[1], 'waits', waits)
    if current == 'delayed' then
      return {0, current}
    end
    target = 'delayed'
    audit = cjson.encode({at = ARGV[4], kind = 'execution.status', actor = ARGV[16], execution = ARGV[1],
      status = target, previous_status = current})
    policy_event('policy.delayed', {policy = delay.p, slot = delay.k}, 'waits for a free slot of policy ' .. delay.p)
  else
    local held = {}
    for _, slot in ipairs(slots) do
      local members = slot.k .. ':slots'
      redis.call('SADD', members, ARGV[1])
      redis.call('ZREM', slot.k .. ':queue', ARGV[1])
      held[#held + 1] = slot.k
      local free = slot.n - redis.call('SCARD', members)
      if free > 0 then
        wake(slot.k, free)
      end
    end
    fields['slots'] = table.concat(held, '\n')
  end
end
if current == 'delayed' and target ~= 'delayed' then
  local waits = redis.call('HGET', KEYS[1], 'waits')
  if waits then
    for queue in string.gmatch(waits, '[^\n]+') do
      redis.call('ZREM', queue, ARGV[1])
    end
    redis.call('HDEL', KEYS[1], 'waits')
  end
end
if ARGV[18] ~= '' and not completing then
  redis.call('ZADD', KEYS[9], 'NX', ARGV[18], ARGV[1])
end
if completing then
  local held = redis.call('HGET', KEYS[1], 'slots')
  if held then
    for prefix in string.gmatch(held, '[^\n]+') do
      redis.call('SREM', prefix .. ':slots', ARGV[1])
      policy_event('policy.released', {slot = prefix, status = target}, nil)
      if head(prefix .. ':queue') then
        wake(prefix, 1)
      end
    end
    redis.call('HDEL', KEYS[1], 'slots')
  end
  local deadline = redis.call('ZSCORE', KEYS[9], ARGV[1])
  if deadline then
    local now = redis.call('TIME')
    if tonumber(deadline) > tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) then
      redis.call('ZREM', KEYS[9], ARGV[1])
    end
  end
  if ARGV[17] ~= '' and target == ARGV[2] then
    redis.call('ZADD', KEYS[7], ARGV[17], ARGV[1])
    local secrets = redis.call('HGET', KEYS[1], 'secrets')
    if secrets then
      redis.call('HSET', KEYS[8], ARGV[1], secrets)
    end
  end
end
local flat = {'status', target, 'log', (redis.call('HGET', KEYS[1], 'log') or '') .. '\n' .. target .. '|' .. ARGV[4]}
for name, value in pairs(fields) do
  flat[#flat + 1] = name
  flat[#flat + 1] = value
end
redis.call('HSET', KEYS[1], unpack(flat))
if completing then
  redis.call('HDEL', KEYS[1], 'secrets')
  record_completion(target, fields['end'] or ARGV[4])
  local parent = redis.call('HGET', KEYS[1], 'parent')
  if parent then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*', 'p', parent, 'c', ARGV[1], 's', target)
  end
end
local score = redis.call('HGET', KEYS[1], 'created_ms')
redis.call('ZREM', ARGV[10] .. current, ARGV[1])
redis.call('ZADD', ARGV[10] .. target, score, ARGV[1])
if ARGV[11] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[11], ARGV[1])
end
audit = audit or string.gsub(ARGV[6], '__PREVIOUS__', current, 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', audit)
if ARGV[7] ~= '' and target == ARGV[2] then
  for instance in string.gmatch(ARGV[7], '[^\n]+') do
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*', 't', instance)
  end
  for event in string.gmatch(ARGV[13], '[^\n]+') do
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', event)
  end
end
if ARGV[19] ~= '' and target == ARGV[2] then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', ARGV[19])
end
if ARGV[14] == '1' then
  return {1, current, redis.call('HGETALL', KEYS[1])}
end
if ARGV[15] ~= '' then
  return {1, current, target}
end
return {1, current}

-- Move one execution to a new status, atomically with everything that goes with it.
--
-- KEYS[1] execution hash   KEYS[2] lease sorted set   KEYS[3] audit stream   KEYS[4] trigger stream
-- KEYS[5] chain event stream (a completed execution with a parent tells it there, for its chain to go on)
-- ARGV[1] execution id     ARGV[2] target status      ARGV[3] allowed current statuses, comma-separated
-- ARGV[4] timestamp (ISO)  ARGV[5] JSON object of hash fields to set (string values)
-- ARGV[6] audit event JSON, with "__PREVIOUS__" where the previous status goes
-- ARGV[7] trigger instance JSON to emit, or ""     ARGV[8] audit maxlen   ARGV[9] trigger maxlen
-- ARGV[10] status index key prefix                  ARGV[11] lease deadline score, "" to drop the lease
-- ARGV[12] "1" to delete the stored secrets      ARGV[13] audit event JSON of the emitted trigger instance, or ""
-- ARGV[14] "1" to return the execution's fields after the change (a worker claiming it)
-- ARGV[15] (optional) one more audit event JSON to append with the change (an inquiry answered...), or ""
-- Returns {1, previous status[, fields]} when moved, {0, current status} when not allowed, {0, ""} when missing.
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
local flat = {'status', ARGV[2], 'log', (redis.call('HGET', KEYS[1], 'log') or '') .. '\n' .. ARGV[2] .. '|' .. ARGV[4]}
for name, value in pairs(fields) do
  flat[#flat + 1] = name
  flat[#flat + 1] = value
end
redis.call('HSET', KEYS[1], unpack(flat))
if ARGV[12] == '1' then
  redis.call('HDEL', KEYS[1], 'secrets')
  local parent = redis.call('HGET', KEYS[1], 'parent')
  if parent then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*', 'p', parent, 'c', ARGV[1], 's', ARGV[2])
  end
end
local score = redis.call('HGET', KEYS[1], 'created_ms')
redis.call('ZREM', ARGV[10] .. current, ARGV[1])
redis.call('ZADD', ARGV[10] .. ARGV[2], score, ARGV[1])
if ARGV[11] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[11], ARGV[1])
end
local audit = string.gsub(ARGV[6], '__PREVIOUS__', current, 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', audit)
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*', 't', ARGV[7])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', ARGV[13])
end
if ARGV[15] and ARGV[15] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'e', ARGV[15])
end
if ARGV[14] == '1' then
  return {1, current, redis.call('HGETALL', KEYS[1])}
end
return {1, current}

-- Fire one timer tick: at most once per tick, and only by the current leader (fencing).
-- KEYS[1] the leader key   KEYS[2] the timer's state hash   KEYS[3] the trigger stream   KEYS[4] the audit stream
-- ARGV[1] the caller's token       ARGV[2] the spec's fingerprint    ARGV[3] the tick fired (epoch ms, as stored)
-- ARGV[4] the next tick (epoch ms, '' when none)   ARGV[5] its ISO time ('' when none)   ARGV[6] the tick's ISO time
-- ARGV[7] trigger stream field     ARGV[8] the trigger instance JSON  ARGV[9] trigger stream maxlen
-- ARGV[10] audit stream field      ARGV[11] the audit event JSON      ARGV[12] audit stream maxlen
-- ARGV[13] the instance id         ARGV[14] when it fired (ISO)
-- The two XADDs are those of RedisBus.publish_in (same fields, approximate MAXLEN).
-- Returns 1 when fired, 0 when the caller is not the leader, -1 when the stored schedule is not this
-- tick of this spec (already fired, or the schedule changed).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local state = redis.call('HMGET', KEYS[2], 'fingerprint', 'next')
if state[1] ~= ARGV[2] or state[2] ~= ARGV[3] then
  return -1
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', ARGV[7], ARGV[8])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[12], '*', ARGV[10], ARGV[11])
redis.call('HSET', KEYS[2], 'next', ARGV[4], 'next_at', ARGV[5], 'last', ARGV[3], 'last_at', ARGV[6],
  'last_instance', ARGV[13], 'fired_at', ARGV[14])
return 1

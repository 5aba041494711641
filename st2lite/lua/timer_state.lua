-- Schedule or forget one timer, only if the caller holds the timer leadership (fencing).
-- KEYS[1] the leader key   KEYS[2] the timer's state hash   KEYS[3] the set of timer ids
-- ARGV[1] the caller's token   ARGV[2] 'schedule' or 'forget'   ARGV[3] the timer id
-- schedule: ARGV[4] the spec's fingerprint, ARGV[5..] field, value pairs of the fresh state (fingerprint included).
-- Returns 0 when the caller is not the leader, 1 when written, 2 when already scheduled with that fingerprint.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'forget' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
  return 1
end
if redis.call('HGET', KEYS[2], 'fingerprint') == ARGV[4] then
  return 2
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('SADD', KEYS[3], ARGV[3])
return 1

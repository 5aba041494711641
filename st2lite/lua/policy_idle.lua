-- Forget a concurrency slot prefix in the set of those with waiters, unless someone waits again.
-- KEYS[1] the set of slot prefixes with waiters   KEYS[2] the prefix's waiting queue   ARGV[1] the prefix
if redis.call('ZCARD', KEYS[2]) == 0 then
  return redis.call('SREM', KEYS[1], ARGV[1])
end
return 0

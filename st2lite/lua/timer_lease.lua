-- Renew or release the timer leadership, only if the caller still holds it.
-- KEYS[1] the leader key   ARGV[1] the caller's token   ARGV[2] 'renew' or 'release'   ARGV[3] lease (ms, renew)
-- Returns 1 when done, 0 when the caller is not the leader (any more).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1

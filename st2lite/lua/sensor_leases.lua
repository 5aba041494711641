-- Renew or release the sensor leases a container holds (st2lite/sensors/placement.py), fenced by its token.
--
-- KEYS: lease keys (st2lite:sensors:lease:<ref>). ARGV[1]: the container's token; ARGV[2]: the new lease
-- length in ms, or 0 to release. A lease is only touched while it still holds ARGV[1]: a container that
-- lost a lease (it expired and another container claimed it) can neither renew nor delete the new owner's.
-- A lease that expired without anybody claiming it is taken back on renewal: nobody else runs that sensor,
-- so it is the same as a fresh claim (the container's loop ran late, e.g. on a starved machine).
-- Returns one integer per key: 1 renewed/released, 2 taken back after it expired unclaimed, 0 the lease is
-- not (any more) this container's.
local out = {}
local ms = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    if ms > 0 then
      redis.call('PEXPIRE', key, ms)
    else
      redis.call('DEL', key)
    end
    out[i] = 1
  elseif holder == false and ms > 0 then
    redis.call('SET', key, ARGV[1], 'PX', ms)
    out[i] = 2
  else
    out[i] = 0
  end
end
return out

-- Emit core.st2.sla_missed for executions past their deadline, once each.
-- KEYS[1] SLA deadlines (sorted set)   KEYS[2] trigger stream   KEYS[3] audit stream
-- ARGV[1] execution key prefix   ARGV[2] audit maxlen   ARGV[3] trigger maxlen
-- then per execution: id, trigger instance JSON, its trigger_instance.received event, the policy.sla_missed
-- event; "__STATUS__" in the JSON becomes the execution's status. The ZREM decides who emits.
-- Returns the ids emitted.
local emitted = {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local status = redis.call('HGET', ARGV[1] .. id, 'status')
    if status then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 't', (string.gsub(ARGV[i + 1], '__STATUS__', status)))
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i + 2])
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'e', (string.gsub(ARGV[i + 3], '__STATUS__', status)))
      emitted[#emitted + 1] = id
    end
  end
end
return emitted

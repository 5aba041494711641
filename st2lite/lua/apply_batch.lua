-- Apply a batch of writes atomically, skipping the groups that were already applied.
--
-- ARGV is flat: the number of groups, then per group its marker key ("" for none) and its
-- number of commands, then per command its number of arguments followed by the arguments;
-- after the groups, the number of tail commands and the commands the same way.
-- A group whose marker key exists is skipped (an earlier attempt committed it); its commands
-- usually create that marker. Tail commands always run (the stream acknowledgements).
-- The pseudo-command "+ZADD score member key..." adds member to each sorted set key at the end of
-- the batch, in one ZADD per key (index keys are shared by most of a batch's writes).
-- Returns the number of groups applied.
local i = 1
local applied = 0
local deferred = {}
local deferred_keys = {}

local function run_commands(count, execute)
  for _ = 1, count do
    local argc = tonumber(ARGV[i])
    if execute then
      if ARGV[i + 1] == '+ZADD' then
        local score, member = ARGV[i + 2], ARGV[i + 3]
        for k = i + 4, i + argc do
          local key = ARGV[k]
          local pending = deferred[key]
          if pending == nil then
            pending = {}
            deferred[key] = pending
            deferred_keys[#deferred_keys + 1] = key
          end
          pending[#pending + 1] = score
          pending[#pending + 1] = member
        end
      else
        redis.call(unpack(ARGV, i + 1, i + argc))
      end
    end
    i = i + 1 + argc
  end
end

local groups = tonumber(ARGV[i])
i = i + 1
for _ = 1, groups do
  local marker = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  local fresh = marker == '' or redis.call('EXISTS', marker) == 0
  run_commands(count, fresh)
  if fresh then
    applied = applied + 1
  end
end
for _, key in ipairs(deferred_keys) do
  local pending = deferred[key]
  -- unpack() has a limit on the values it returns: add in slices.
  for first = 1, #pending, 4000 do
    redis.call('ZADD', key, unpack(pending, first, math.min(first + 3999, #pending)))
  end
end
local tail = tonumber(ARGV[i])
i = i + 1
run_commands(tail, true)
return applied

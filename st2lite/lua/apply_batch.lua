-- Apply a batch of writes atomically, skipping the groups that were already applied.
--
-- ARGV is flat:
--   the number of templates, then per template its number of commands, then per command its
--   number of arguments followed by the arguments, where U+0091 <n> U+0092 (UTF-8: C2 91 <n> C2 92)
--   stands for the n-th value;
--   the number of groups, then per group its marker key ("" for none) and its number of
--   commands, then per command its number of arguments followed by the arguments;
--   the number of tail commands and the commands the same way.
-- A group whose marker key exists is skipped (an earlier attempt committed it); its commands
-- usually create that marker. Tail commands always run (the stream acknowledgements).
-- Pseudo-commands:
--   "+ZADD score member key..." adds member to each sorted set key at the end of the batch, in
--     one ZADD per key (index keys are shared by most of a batch's writes);
--   "+TPL t value..." runs the commands of template t with its placeholders replaced by the values
--     (the writes of one rule firing: recorded once, replayed for every firing).
-- Returns the (1-based) numbers of the groups skipped, usually none.
local i = 1
local skipped = {}
local deferred = {}
local deferred_keys = {}
local templates = {}

local function call(args)
  if args[1] == '+ZADD' then
    local score, member = args[2], args[3]
    for k = 4, #args do
      local key = args[k]
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
    redis.call(unpack(args))
  end
end

-- An argument with placeholders becomes {literal, n, literal, n, ..., literal}; others stay strings.
local function split(arg)
  if not string.find(arg, '\194\145', 1, true) then
    return arg
  end
  local pieces, from = {}, 1
  for first, n, after in string.gmatch(arg, '()\194\145(%d+)\194\146()') do
    pieces[#pieces + 1] = string.sub(arg, from, first - 1)
    pieces[#pieces + 1] = tonumber(n)
    from = after
  end
  pieces[#pieces + 1] = string.sub(arg, from)
  return pieces
end

-- A recorded command is kept as its argument table (static arguments filled in once) and the list
-- of its arguments with placeholders; a replay only rebuilds those, in the same tables.
local scratch = {}

local function replay(template, first_value)
  for _, command in ipairs(template) do
    local args = command.args
    for _, dynamic in ipairs(command.dynamic) do
      local pieces = dynamic.pieces
      for p = 1, #pieces do
        local piece = pieces[p]
        scratch[p] = (p % 2 == 0) and ARGV[first_value + piece - 1] or piece
      end
      args[dynamic.k] = table.concat(scratch, '', 1, #pieces)
    end
    call(args)
  end
end

local function run_commands(count, execute)
  for _ = 1, count do
    local argc = tonumber(ARGV[i])
    if execute then
      if ARGV[i + 1] == '+TPL' then
        replay(templates[tonumber(ARGV[i + 2])], i + 3)
      else
        call({unpack(ARGV, i + 1, i + argc)})
      end
    end
    i = i + 1 + argc
  end
end

for t = 1, tonumber(ARGV[i]) do
  i = i + 1
  local template = {}
  for c = 1, tonumber(ARGV[i]) do
    i = i + 1
    local argc = tonumber(ARGV[i])
    local command = {args = {}, dynamic = {}}
    for k = 1, argc do
      local arg = split(ARGV[i + k])
      if type(arg) == 'string' then
        command.args[k] = arg
      else
        command.args[k] = ''
        command.dynamic[#command.dynamic + 1] = {k = k, pieces = arg}
      end
    end
    template[c] = command
    i = i + argc
  end
  templates[t] = template
end
i = i + 1

local groups = tonumber(ARGV[i])
i = i + 1
for g = 1, groups do
  local marker = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  local fresh = marker == '' or redis.call('EXISTS', marker) == 0
  run_commands(count, fresh)
  if not fresh then
    skipped[#skipped + 1] = g
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
return skipped

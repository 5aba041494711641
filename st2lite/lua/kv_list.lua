-- One page of the datastore names of a scope, with their hashes (st2lite/datastore.py, KeyValueStore.query).
--
-- KEYS[1] the scope's name index (all scores 0, so ordered by name), KEYS[2] its expiry index
-- (scored by expiry time). ARGV: now (Unix seconds), lex min, lex max, offset, count (-1: all),
-- the prefix of the value keys of the scope.
--
-- First drops from both indexes the names whose expiry has passed and whose hash Redis has
-- expired (at most 1000 per call: the rest go on the next list), so listing never scans the
-- database. Returns {total matching, name1, {field, value, ...}, name2, {...}, ...}; a name
-- whose hash expired between the purge and now is left out of the page.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, name in ipairs(expired) do
  if redis.call('EXISTS', ARGV[6] .. name) == 0 then
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
  end
end
local out = {redis.call('ZLEXCOUNT', KEYS[1], ARGV[2], ARGV[3])}
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', ARGV[4], ARGV[5])
for _, name in ipairs(names) do
  local fields = redis.call('HGETALL', ARGV[6] .. name)
  if #fields > 0 then
    out[#out + 1] = name
    out[#out + 1] = fields
  end
end
return out

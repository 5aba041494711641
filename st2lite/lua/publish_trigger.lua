-- Publish trigger instances: each one's entry on the trigger stream and its audit event, atomically.
-- One script call is one command and one reply, whatever the count: cheaper for the client than
-- MULTI/XADD/XADD/EXEC per instance (the API publishes the instances of concurrent requests together).
-- KEYS[1] trigger stream, KEYS[2] audit stream
-- ARGV[1] trigger stream maxlen (approximate), ARGV[2] audit stream maxlen (approximate)
-- then per instance: the encoded instance (field "t"), its encoded audit event (field "e")
-- Returns the trigger stream entry ids, in order.
local ids = {}
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[i])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i + 1])
end
return ids

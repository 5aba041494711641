-- Publish one trigger instance: its entry on the trigger stream and its audit event, atomically.
-- One script call is one command and one reply: cheaper for the client than MULTI/XADD/XADD/EXEC.
-- KEYS[1] trigger stream, KEYS[2] audit stream
-- ARGV[1] trigger stream maxlen (approximate), ARGV[2] the encoded instance (field "t")
-- ARGV[3] audit stream maxlen (approximate), ARGV[4] the encoded audit event (field "e")
-- Returns the trigger stream entry id.
local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[4])
return entry

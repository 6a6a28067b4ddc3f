#include "cluster/scripts.hpp"

namespace sig::cluster::scripts {

const redis::Script& join() {
  // KEYS: dir, ws, peers, heartbeat, resume. ARGV: user, connection, display name, cap, ws TTL,
  // heartbeat value, heartbeat TTL, presented resumeId ('' none), resumeId of a new incarnation.
  // A resume (the presented resumeId is the user's current one, and the user is still listed)
  // keeps its place in the join order (its seq) and its resumeId.
  static const redis::Script s(R"lua(
local d = redis.call('HMGET', KEYS[1], 'status', 'participants')
if not d[2] then return {'session_not_found'} end
if d[1] == 'ended' then return {'session_ended'} end
local ok, list = pcall(cjson.decode, d[2])
if not ok or type(list) ~= 'table' then return {'session_not_found'} end
local name = nil
for _, p in ipairs(list) do
  if type(p) == 'table' and p.userId == ARGV[1] then
    name = p.displayName
    if type(name) ~= 'string' then name = '' end
    break
  end
end
if name == nil then return {'not_participant'} end
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if not prev and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return {'session_full'} end
local shown = ARGV[3]
if shown == '' then shown = name end
if shown == '' then shown = ARGV[1] end
local rid = ARGV[9]
local seq = nil
if prev and ARGV[8] ~= '' and redis.call('HGET', KEYS[5], ARGV[1]) == ARGV[8] then
  seq = tonumber(string.match(redis.call('HGET', KEYS[3], ARGV[1]) or '', '^(%d+)|'))
  if seq then rid = ARGV[8] end
end
local resumed = 0
if seq then resumed = 1 else seq = redis.call('HINCRBY', KEYS[1], 'joinSeq', 1) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq .. '|' .. shown)
redis.call('HSET', KEYS[5], ARGV[1], rid)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
return {'ok', prev or '', seq, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[1]), resumed, rid}
)lua");
  return s;
}

const redis::Script& leave() {
  static const redis::Script s(R"lua(
local removed = 0
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3])
  redis.call('HDEL', KEYS[4], ARGV[1])
  removed = 1
end
if removed == 1 or ARGV[5] == '1' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return removed
)lua");
  return s;
}

const redis::Script& start() {
  static const redis::Script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local st = redis.call('HGET', KEYS[1], 'status')
if st and st ~= 'waiting' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'started', 'startedAt', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua");
  return s;
}

const redis::Script& end() {
  static const redis::Script s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') == 'ended' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'ended', 'endedAt', ARGV[2], 'endReason', ARGV[1])
for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('DEL', ARGV[6] .. u) end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
)lua");
  return s;
}

const redis::Script& put() {
  static const redis::Script s(R"lua(
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'hostUserId', ARGV[1], 'participants', ARGV[2], 'durationSeconds', ARGV[3])
if ARGV[7] == nil or ARGV[7] == '' then
  redis.call('HDEL', KEYS[1], 'iceTransportPolicy')
else
  redis.call('HSET', KEYS[1], 'iceTransportPolicy', ARGV[7])
end
redis.call('HSETNX', KEYS[1], 'status', 'waiting')
redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
if created then return 1 end
return 0
)lua");
  return s;
}

const redis::Script& remove() {
  static const redis::Script s(R"lua(
for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('DEL', ARGV[1] .. u) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua");
  return s;
}

const redis::Script& snapshot() {
  static const redis::Script s(R"lua(
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
)lua");
  return s;
}

const redis::Script& restore() {
  static const redis::Script s(R"lua(
local nf, nd = tonumber(ARGV[8]), tonumber(ARGV[9])
local first = 10 + nf + nd
if redis.call('EXISTS', KEYS[1]) == 0 and nf > 0 then
  local args = {}
  for i = 10, 9 + nf do args[#args + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(args))
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'status') == 'ended' then return 0 end
local seq = tonumber(redis.call('HGET', KEYS[1], 'joinSeq') or '0')
if seq < tonumber(ARGV[6]) then redis.call('HSET', KEYS[1], 'joinSeq', ARGV[6]) end
local known = tonumber(ARGV[7])
local doubtful = {}
for i = 10 + nf, 9 + nf + nd do doubtful[ARGV[i]] = true end
local mine = {}
for i = first, #ARGV, 4 do mine[ARGV[i]] = ARGV[i + 1] end
local ws = redis.call('HGETALL', KEYS[2])
for i = 1, #ws, 2 do
  local u, c = ws[i], ws[i + 1]
  if string.sub(c, 1, #ARGV[1]) == ARGV[1] and mine[u] ~= c then
    local s = tonumber(string.match(redis.call('HGET', KEYS[3], u) or '', '^(%d+)|') or '0')
    if s <= known or doubtful[c] then
      redis.call('HDEL', KEYS[2], u)
      redis.call('HDEL', KEYS[3], u)
      redis.call('HDEL', KEYS[4], u)
      redis.call('DEL', ARGV[3] .. u)
    end
  end
end
for i = first, #ARGV, 4 do
  local u = ARGV[i]
  if not redis.call('HGET', KEYS[2], u) then
    redis.call('HSET', KEYS[2], u, ARGV[i + 1])
    redis.call('HSET', KEYS[3], u, ARGV[i + 2])
    redis.call('SET', ARGV[3] .. u, ARGV[4], 'EX', ARGV[5])
  end
  if redis.call('HGET', KEYS[2], u) == ARGV[i + 1] and ARGV[i + 3] ~= '' then
    redis.call('HSET', KEYS[4], u, ARGV[i + 3])
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[2]) end
end
return 1
)lua");
  return s;
}

}  // namespace sig::cluster::scripts

#include "cluster/scripts.hpp"

#include <string>
#include <string_view>

namespace sig::cluster::scripts {

namespace {

// Attendance (docs/deployment.md, "session:attendance"): helpers prepended to the scripts that
// keep it. An entry is JSON {n, f, l, c, t, s, r}: name, first join, last departure, connections,
// closed connected ms, open interval's start, loss time (ms since the epoch; false when none).
// A value that is not such JSON (someone wrote the key by hand) is taken as absent.
constexpr std::string_view kAttendanceLua = R"lua(
local function att_num(x) if type(x) == 'number' then return x end return false end
local function att_decode(v)
  if not v then return nil end
  local ok, a = pcall(cjson.decode, v)
  if not ok or type(a) ~= 'table' then return nil end
  return a
end
local function att_get(key, u) return att_decode(redis.call('HGET', key, u)) end
local function att_put(key, u, a) redis.call('HSET', key, u, cjson.encode(a)) end
-- Closes the open interval now, or at the loss time when the connection was lost (a window that
-- expired: the gap does not count).
local function att_close(a, now)
  local s = att_num(a.s)
  if s then
    local e = att_num(a.r) or now
    if e < s then e = s end
    a.t = (att_num(a.t) or 0) + (e - s)
    a.l = e
  end
  a.s = false
  a.r = false
end
)lua";

std::string with_attendance(std::string_view body) {
  std::string s(kAttendanceLua);
  s.append(body);
  return s;
}

// The two variants of a script: PUBLISH for one server, SPUBLISH (sharded pub/sub) for a Redis
// Cluster, where the session channel is in the slot of the script's keys (its hash tag).
class Variants {
 public:
  explicit Variants(const std::string& source) : plain_(source), sharded_(sharded_source(source)) {}
  const redis::Script& get(bool sharded) const { return sharded ? sharded_ : plain_; }

 private:
  static std::string sharded_source(std::string source) {
    static constexpr std::string_view from = "redis.call('PUBLISH'", to = "redis.call('SPUBLISH'";
    for (auto at = source.find(from); at != std::string::npos; at = source.find(from, at + to.size()))
      source.replace(at, from.size(), to);
    return source;
  }
  redis::Script plain_, sharded_;
};

}  // namespace

const redis::Script& join(bool sharded) {
  // KEYS: dir, ws, peers, heartbeat, resume, attendance. ARGV: user, connection, display name,
  // cap, ws TTL, heartbeat value (the node's wall clock, ms: also the attendance's "now"),
  // heartbeat TTL, presented resumeId ('' none), resumeId of a new incarnation.
  // A resume (the presented resumeId is the user's current one, and the user is still listed)
  // keeps its place in the join order (its seq) and its resumeId. Attendance: one more
  // connection; the interval stays open (a resumed or replaced gap counts) or opens now.
  static const Variants s(with_attendance(R"lua(
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
local prevpeer = ''
if prev then prevpeer = redis.call('HGET', KEYS[3], ARGV[1]) or '' end
local before = ''
if KEYS[6] then
  before = redis.call('HGET', KEYS[6], ARGV[1]) or ''
  local now = tonumber(ARGV[6])
  local a = att_decode(before)
  if not a then a = {f = now, c = 0, t = 0} end
  a.n = shown
  -- Resumed or replaced, an open interval stays open (as on one node: a replacement closes the
  -- old incarnation and opens the new one at the same instant); a closed one opens now.
  if not att_num(a.s) then a.s = now end
  a.r = false
  a.l = false
  a.c = (att_num(a.c) or 0) + 1
  att_put(KEYS[6], ARGV[1], a)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq .. '|' .. shown)
redis.call('HSET', KEYS[5], ARGV[1], rid)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
return {'ok', prev or '', seq, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[1]), resumed, rid, before, prevpeer}
)lua"));
  return s.get(sharded);
}

const redis::Script& leave(bool sharded) {
  // KEYS: ws, peers, heartbeat, resume, attendance, dir. ARGV: user, connection, channel, event,
  // publish always (1/0), now (ms), attendance to put back ('' none, '-' delete: the undo of a
  // join that the node refused after the script).
  static const Variants s(with_attendance(R"lua(
local removed, name, closed = 0, '', 0
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  name = string.match(redis.call('HGET', KEYS[2], ARGV[1]) or '', '^%d+|(.*)$') or ''
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3])
  redis.call('HDEL', KEYS[4], ARGV[1])
  removed = 1
  if KEYS[5] and ARGV[6] then
    local undo = ARGV[7] or ''
    if undo == '-' then
      redis.call('HDEL', KEYS[5], ARGV[1])
    elseif undo ~= '' then
      redis.call('HSET', KEYS[5], ARGV[1], undo)
    else
      local a = att_get(KEYS[5], ARGV[1])
      if a and att_num(a.s) then
        att_close(a, tonumber(ARGV[6]))
        closed = a.l
        att_put(KEYS[5], ARGV[1], a)
      end
    end
  end
  if KEYS[6] and redis.call('EXISTS', KEYS[6]) == 1 then redis.call('HINCRBY', KEYS[6], 'rev', 1) end
end
if removed == 1 or ARGV[5] == '1' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return {removed, name, closed}
)lua"));
  return s.get(sharded);
}

const redis::Script& lost(bool sharded) {
  // KEYS: ws, attendance, dir. ARGV: user, connection, now (ms), channel, event, publish (1/0).
  static const Variants s(with_attendance(R"lua(
local changed, name = 0, ''
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  local a = att_get(KEYS[2], ARGV[1])
  if a then
    if type(a.n) == 'string' then name = a.n end
    if att_num(a.s) and not att_num(a.r) then
      a.r = tonumber(ARGV[3])
      att_put(KEYS[2], ARGV[1], a)
      changed = 1
    end
  end
end
if changed == 1 and KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'rev', 1) end
if ARGV[6] == '1' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return {changed, name}
)lua"));
  return s.get(sharded);
}

const redis::Script& start(bool sharded) {
  static const Variants s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local st = redis.call('HGET', KEYS[1], 'status')
if st and st ~= 'waiting' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'started', 'startedAt', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua");
  return s.get(sharded);
}

const redis::Script& end(bool sharded) {
  // Attendance: every open interval closes at the end (at its loss time for a lost connection);
  // the hash outlives the presence keys with the directory entry, for the admin API.
  static const Variants s(with_attendance(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
if redis.call('HGET', KEYS[1], 'status') == 'ended' then return {0} end
redis.call('HSET', KEYS[1], 'status', 'ended', 'endedAt', ARGV[2], 'endReason', ARGV[1])
local present = redis.call('HGETALL', KEYS[3])
local att = {}
if KEYS[5] and ARGV[7] then
  local now = tonumber(ARGV[7])
  local all = redis.call('HGETALL', KEYS[5])
  for i = 1, #all, 2 do
    local a = att_decode(all[i + 1])
    if a and att_num(a.s) then
      att_close(a, now)
      att_put(KEYS[5], all[i], a)
    end
  end
  att = redis.call('HGETALL', KEYS[5])
  if #att > 0 then redis.call('EXPIRE', KEYS[5], ARGV[5]) end
end
for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('DEL', ARGV[6] .. u) end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, att, present, redis.call('HGET', KEYS[1], 'startedAt') or ''}
)lua"));
  return s.get(sharded);
}

const redis::Script& put(bool sharded) {
  static const Variants s(R"lua(
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
  return s.get(sharded);
}

const redis::Script& remove(bool sharded) {
  static const Variants s(R"lua(
for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('DEL', ARGV[1] .. u) end
redis.call('DEL', unpack(KEYS))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua");
  return s.get(sharded);
}

const redis::Script& snapshot(bool sharded) {
  static const Variants s(R"lua(
local att = {}
if KEYS[4] then att = redis.call('HGETALL', KEYS[4]) end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), att}
)lua");
  return s.get(sharded);
}

const redis::Script& restore(bool sharded) {
  // KEYS: dir, ws, peers, resume, attendance. Each local participant is 6 arguments: user,
  // connection, peers value, resumeId, attendance JSON ('' when this node has none: a minimal
  // entry is written if Redis has none), lost-at ms ('' when live here; set while it is still
  // reconnecting here: its loss is kept, never cleared). Returns {0} or {1, live users whose loss
  // it cleared (the others saw them as lost while this node was away), live users it re-opened
  // (an entry closed meanwhile: their window expired on the others)}.
  static const Variants s(with_attendance(R"lua(
local nf, nd = tonumber(ARGV[8]), tonumber(ARGV[9])
local first = 10 + nf + nd
if redis.call('EXISTS', KEYS[1]) == 0 and nf > 0 then
  local args = {}
  for i = 10, 9 + nf do args[#args + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(args))
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'status') == 'ended' then return {0} end
local now = tonumber(ARGV[4])
local seq = tonumber(redis.call('HGET', KEYS[1], 'joinSeq') or '0')
if seq < tonumber(ARGV[6]) then redis.call('HSET', KEYS[1], 'joinSeq', ARGV[6]) end
local known = tonumber(ARGV[7])
local doubtful = {}
for i = 10 + nf, 9 + nf + nd do doubtful[ARGV[i]] = true end
local mine = {}
for i = first, #ARGV, 6 do mine[ARGV[i]] = ARGV[i + 1] end
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
      if KEYS[5] then
        local a = att_get(KEYS[5], u)
        if a and att_num(a.s) then
          att_close(a, now)
          att_put(KEYS[5], u, a)
        end
      end
    end
  end
end
local cleared, reopened = {}, {}
for i = first, #ARGV, 6 do
  local u = ARGV[i]
  if not redis.call('HGET', KEYS[2], u) then
    redis.call('HSET', KEYS[2], u, ARGV[i + 1])
    redis.call('HSET', KEYS[3], u, ARGV[i + 2])
    redis.call('SET', ARGV[3] .. u, ARGV[4], 'EX', ARGV[5])
  end
  local lost = tonumber(ARGV[i + 5] or '')
  if redis.call('HGET', KEYS[2], u) == ARGV[i + 1] then
    if ARGV[i + 3] ~= '' then redis.call('HSET', KEYS[4], u, ARGV[i + 3]) end
    if KEYS[5] then
      local a = att_get(KEYS[5], u)
      if not a then
        a = att_decode(ARGV[i + 4] or '')
        if not a then
          a = {n = string.match(ARGV[i + 2], '^%d+|(.*)$') or u, f = now, l = false, c = 1, t = 0, r = false}
        end
        a.s = att_num(a.s) or now
        a.l = false
        a.r = lost or false
        att_put(KEYS[5], u, a)
      elseif not att_num(a.s) then
        a.s = now
        a.l = false
        a.c = (att_num(a.c) or 0) + 1
        if lost then
          -- Closed by the others and still gone here: open again, lost from now (not announced).
          a.r = now
        else
          a.r = false
          reopened[#reopened + 1] = u
        end
        att_put(KEYS[5], u, a)
      elseif lost then
        if not att_num(a.r) then
          a.r = lost
          att_put(KEYS[5], u, a)
        end
      elseif att_num(a.r) then
        a.r = false
        att_put(KEYS[5], u, a)
        cleared[#cleared + 1] = u
      end
    end
  end
end
redis.call('HINCRBY', KEYS[1], 'rev', 1)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[2]) end
end
return {1, cleared, reopened}
)lua"));
  return s.get(sharded);
}

}  // namespace sig::cluster::scripts

#pragma once
// The Lua scripts that make the several-node operations atomic in Redis. Each documents its
// KEYS and ARGV; see scripts.cpp and docs/deployment.md. Each comes in two variants: `sharded`
// publishes with SPUBLISH (Redis Cluster), otherwise with PUBLISH. Call them through calls.hpp.
// Each script that changes a session's presence (ws, peers, resume, attendance) also increments
// the directory's `rev` field, when the directory exists: every change of a session then shows in
// its directory hash, which the periodic sync reads alone (one HGETALL) to tell whether the whole
// session must be read again (Mirror::sync).
#include "redis/client.hpp"

namespace sig::cluster::scripts {

// KEYS: dir, ws, peers, heartbeat, resume, attendance. ARGV: userId, connectionId, token display
// name, max participants, ws TTL s, heartbeat value (now, ms), heartbeat TTL s, presented
// resumeId, fresh resumeId.
// Refusals: {"session_not_found"|"session_ended"|"not_participant"|"session_full"}.
// Admitted: {"ok", previous connection id or "", seq, HGETALL ws, HGETALL peers, HGETALL dir,
// resumed 1/0, resumeId, the user's attendance before ('' none: for an undo), the replaced
// connection's peers value ('' none)}. Attendance: connections+1; the interval stays open (a
// resume or a replacement: the gap counts, as on one node) or opens now; the loss is cleared.
const redis::Script& join(bool sharded = false);
// KEYS: ws, peers, heartbeat, resume, attendance, dir. ARGV: userId, connectionId, channel, event,
// publish always (1/0), now ms, attendance to put back ('' none, '-' delete).
// Removes the entries while ws still names this connection and closes the attendance interval
// (now, or at the loss time of a lost connection); publishes the event when it did (or always).
// Returns {removed 1/0, display name, closed at ms or 0} (decode_leave).
const redis::Script& leave(bool sharded = false);
// KEYS: ws, attendance, dir. ARGV: userId, connectionId, now ms, channel, event, publish (1/0).
// A connection lost (reconnecting): sets the loss time while ws names it and none is set.
// Returns {changed 1/0, display name} (decode_lost).
const redis::Script& lost(bool sharded = false);
// KEYS: dir. ARGV: startedAt, channel, event. Waiting -> started; 1 when it did (and published).
const redis::Script& start(bool sharded = false);
// KEYS: dir, ws, peers, resume, attendance. ARGV: reason, endedAt, channel, event, retention s,
// heartbeat key prefix, endedAt ms.
// Ends the session if it is not ended (exactly one caller wins and publishes), closes every open
// attendance interval, removes its presence keys and lets the entry and the attendance expire
// after the retention. Returns {0} or {1, HGETALL attendance, HGETALL peers (who was there),
// startedAt or ''} (decode_end).
const redis::Script& end(bool sharded = false);
// KEYS: dir. ARGV: hostUserId, participants JSON, durationSeconds, createdAt, channel, event.
// Writes the directory fields; status (waiting) and createdAt only when absent. 1 when created.
const redis::Script& put(bool sharded = false);
// KEYS: dir, ws, peers, resume, attendance. ARGV: heartbeat key prefix, channel, event.
const redis::Script& remove(bool sharded = false);
// KEYS: dir, ws, peers, attendance. Returns {HGETALL dir, HGETALL ws, HGETALL peers, HGETALL
// attendance} at one point in time.
const redis::Script& snapshot(bool sharded = false);
// KEYS: dir, ws, peers, resume, attendance. ARGV: "<node-id>:", ws TTL s, heartbeat key prefix,
// heartbeat value (now, ms),
// heartbeat TTL s, max local seq, known seq, NF, ND, then NF directory field/value arguments, then
// ND doubtful connection ids, then (userId, connectionId, peers value, resumeId, attendance JSON or
// '') for each local participant. Returns {0} or {1, users whose loss it cleared, users whose
// closed attendance it re-opened} (decode_restore).
// After Redis lost its data or this node lost Redis: writes the entry if absent, drops this
// node's stale connections, writes its live ones where the user has no entry. An entry of this
// node that is not in the local list is stale when its join seq is at most "known seq" (the
// highest seq this node has seen in its join replies) or its connection id is doubtful (a join
// whose reply was lost, no longer connected); a newer one is a join that reached Redis before
// this script but whose reply the node has not read yet, and it stays.
const redis::Script& restore(bool sharded = false);

}  // namespace sig::cluster::scripts

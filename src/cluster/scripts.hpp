#pragma once
// The Lua scripts that make the several-node operations atomic in Redis. Each documents its
// KEYS and ARGV; see scripts.cpp and docs/deployment.md.
#include "redis/client.hpp"

namespace sig::cluster::scripts {

// KEYS: dir, ws, peers, heartbeat. ARGV: userId, connectionId, token display name, max
// participants, ws TTL s, heartbeat value, heartbeat TTL s.
// Refusals: {"session_not_found"|"session_ended"|"not_participant"|"session_full"}.
// Admitted: {"ok", previous connection id or "", seq, HGETALL ws, HGETALL peers, HGETALL dir}.
const redis::Script& join();
// KEYS: ws, peers, heartbeat. ARGV: userId, connectionId, channel, event, publish always (1/0).
// Removes the entries while ws still names this connection; publishes the event when it did (or
// always). Returns 1 when it removed them.
const redis::Script& leave();
// KEYS: dir. ARGV: startedAt, channel, event. Waiting -> started; 1 when it did (and published).
const redis::Script& start();
// KEYS: dir, ws, peers. ARGV: reason, endedAt, channel, event, retention s, heartbeat key prefix.
// Ends the session if it is not ended (exactly one caller wins and publishes), removes its
// presence keys and lets the entry expire after the retention.
const redis::Script& end();
// KEYS: dir. ARGV: hostUserId, participants JSON, durationSeconds, createdAt, channel, event.
// Writes the directory fields; status (waiting) and createdAt only when absent. 1 when created.
const redis::Script& put();
// KEYS: dir, ws, peers. ARGV: heartbeat key prefix, channel, event.
const redis::Script& remove();
// KEYS: dir, ws, peers. Returns {HGETALL dir, HGETALL ws, HGETALL peers} at one point in time.
const redis::Script& snapshot();
// KEYS: dir, ws, peers. ARGV: "<node-id>:", ws TTL s, heartbeat key prefix, heartbeat value,
// heartbeat TTL s, max local seq, known seq, NF, ND, then NF directory field/value arguments, then
// ND doubtful connection ids, then (userId, connectionId, peers value) for each local participant.
// After Redis lost its data or this node lost Redis: writes the entry if absent, drops this
// node's stale connections, writes its live ones where the user has no entry. An entry of this
// node that is not in the local list is stale when its join seq is at most "known seq" (the
// highest seq this node has seen in its join replies) or its connection id is doubtful (a join
// whose reply was lost, no longer connected); a newer one is a join that reached Redis before
// this script but whose reply the node has not read yet, and it stays.
const redis::Script& restore();

}  // namespace sig::cluster::scripts

// The four-participant Chromium mesh through a real coturn: a relay-only session
// (iceTransportPolicy "relay", admin API), the server handing TURN credentials in `joined`, the
// demo room unchanged (its library merges the server's iceServers). Every selected candidate
// pair is relay/relay (getStats), video is decoded from the three others, and no SDP carries a
// host or server-reflexive candidate.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { USERS, admin, startServer, launchBrowser, openRoom, closeRoom, connectedTo, decodesVideoFrom, inPage, selectedPairs } from './helpers.mjs';
import { TurnServer, TURN_BIN } from '../integration/turn-support.mjs';
import fs from 'node:fs';

describe('mesh of real browsers through TURN', { skip: !fs.existsSync(TURN_BIN) && `${TURN_BIN} not found (apt-get install coturn)` }, () => {
  let turn;
  let server;
  let browser;
  let sessionId;
  const rooms = [];
  const four = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];

  before(async () => {
    const secret = crypto.randomBytes(24).toString('hex');
    turn = new TurnServer({ secret });
    await turn.start();
    server = await startServer({ extraArgs: ['--turn-uri', turn.uri, '--turn-secret', secret] });
    browser = await launchBrowser();
    sessionId = `bt-${crypto.randomBytes(6).toString('hex')}`;
    await admin(server, 'PUT', `/api/sessions/${sessionId}`, {
      hostUserId: four[0].userId, participants: four, iceTransportPolicy: 'relay',
    });
  });

  after(async () => {
    for (const r of rooms) await closeRoom(r);
    await browser?.close();
    await server?.stop();
    await turn?.stop();
  });

  test('relay-only: six connections through coturn, relay/relay pairs, video from the three others, no host candidate', async () => {
    for (const u of four) rooms.push(await openRoom(browser, server, sessionId, u));
    const others = (me) => four.filter((u) => u.userId !== me.userId);
    for (const r of rooms) await connectedTo(r, others(r.user));
    for (const r of rooms) await decodesVideoFrom(r, others(r.user));

    for (const r of rooms) {
      const seen = await selectedPairs(r);
      assert.equal(seen.length, 3, `${r.userId}: ${JSON.stringify(seen)}`);
      for (const s of seen) {
        assert.equal(s.policy, 'relay', `${r.userId} -> ${s.userId}`);
        assert.equal(s.local, 'relay', `${r.userId} -> ${s.userId}: ${JSON.stringify(s)}`);
        assert.equal(s.remote, 'relay', `${r.userId} -> ${s.userId}: ${JSON.stringify(s)}`);
        for (const type of s.sdpTypes) assert.equal(type, 'relay', `${r.userId} -> ${s.userId}: ${JSON.stringify(s)}`);
      }
      await inPage(r, () => window.room.client.iceTransportPolicy === 'relay', undefined, 'the client knows the session is relay-only');
    }
  });
});

// What the attack tests measure of the server process: resident memory and open descriptors,
// read from /proc, and a participant that must keep relaying while an attack runs.
import assert from 'node:assert/strict';
import fs from 'node:fs';

/** Resident set size of `pid` in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  assert.ok(m, `no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Open file descriptors of `pid`. */
export function openFds(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Samples the RSS of `pid` every `intervalMs` until stop() is called; stop() returns the
 * largest sample in KiB.
 */
export function sampleRss(pid, intervalMs = 50) {
  let peak = rssKiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssKiB(pid));
    } catch {
      // the process is gone: the test's own liveness check reports it
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, rssKiB(pid));
      } catch {
        // as above
      }
      return peak;
    },
  };
}

/** Sanitized builds use several times the memory; bounds are scaled for them. */
export const RSS_SCALE = process.env.SIGNALING_SANITIZED ? 4 : 1;

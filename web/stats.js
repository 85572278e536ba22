// Call health from getStats: bitrate in and out, round-trip time, packet
// loss, the received video's resolution, frame rate and freezes, and the
// browser's own estimate of what it can send on this connection (what a
// p2pcallsink in adaptive mode estimates from its side).

// @previous: what the last call returned for this connection (bytes and time).
export function summarizeStats(report, previous) {
  let bytesIn = 0, bytesOut = 0, lost = 0, received = 0;
  let rtt = null, width = 0, height = 0, fps = 0, framesDecoded = 0;
  let freezes = 0, freezeSeconds = 0, estimate = null, audioLevel = 0, localAudioLevel = 0;
  for (const stat of report.values()) {
    if (stat.type === 'inbound-rtp') {
      bytesIn += stat.bytesReceived ?? 0;
      lost += Math.max(0, stat.packetsLost ?? 0);
      received += stat.packetsReceived ?? 0;
      if (stat.kind === 'audio') audioLevel = stat.audioLevel ?? 0;
      if (stat.kind === 'video') {
        width = stat.frameWidth ?? 0;
        height = stat.frameHeight ?? 0;
        fps = stat.framesPerSecond ?? 0;
        framesDecoded = stat.framesDecoded ?? 0;
        freezes = stat.freezeCount ?? 0;
        freezeSeconds = stat.totalFreezesDuration ?? 0;
      }
    } else if (stat.type === 'media-source' && stat.kind === 'audio') {
      localAudioLevel = stat.audioLevel ?? 0;
    } else if (stat.type === 'outbound-rtp') {
      bytesOut += stat.bytesSent ?? 0;
    } else if (stat.type === 'candidate-pair' && stat.nominated && stat.state === 'succeeded') {
      rtt = stat.currentRoundTripTime ?? rtt;
      estimate = stat.availableOutgoingBitrate ?? estimate;
    }
  }
  const now = performance.now();
  const seconds = previous ? (now - previous.at) / 1000 : 0;
  // The first sample has nothing to compare with: no rate yet.
  const rate = (bytes, before) => (seconds > 0 ? Math.max(0, (bytes - before) * 8 / seconds) : null);
  return {
    at: now,
    bytesIn,
    bytesOut,
    bitrateIn: rate(bytesIn, previous?.bytesIn ?? 0),
    bitrateOut: rate(bytesOut, previous?.bytesOut ?? 0),
    rttMs: rtt === null ? null : Math.round(rtt * 1000),
    lossPercent: lost + received > 0 ? (100 * lost) / (lost + received) : 0,
    width,
    height,
    fps,
    framesDecoded,
    freezes,
    freezeSeconds,
    estimate,
    audioLevel,
    localAudioLevel,
  };
}

// Thresholds of the tile's quality mark. Loss and round trip are what a
// person hears and sees first (gaps, talking over each other); freezes
// since the last sample mean the picture stopped.
const FAIR = { lossPercent: 2, rttMs: 250 };
const POOR = { lossPercent: 8, rttMs: 600 };

// 'good', 'fair', 'poor', or 'unknown' before the first numbers.
export function connectionQuality(health, previous) {
  if (!health || health.bitrateIn === null) return 'unknown';
  const froze = previous && health.freezes > previous.freezes;
  const rtt = health.rttMs ?? 0;
  if (froze || health.lossPercent >= POOR.lossPercent || rtt >= POOR.rttMs) return 'poor';
  if (health.lossPercent >= FAIR.lossPercent || rtt >= FAIR.rttMs) return 'fair';
  return 'good';
}

function kbps(bits) {
  if (bits === null) return '…';
  return bits >= 1e6 ? `${(bits / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bits / 1e3)} kbit/s`;
}

export function formatHealth(health) {
  if (!health) return '';
  const parts = [`↓ ${kbps(health.bitrateIn)}`, `↑ ${kbps(health.bitrateOut)}`];
  if (health.estimate) parts.push(`est ${kbps(health.estimate)}`);
  if (health.rttMs !== null) parts.push(`RTT ${health.rttMs} ms`);
  parts.push(`loss ${health.lossPercent.toFixed(1)}%`);
  if (health.width) parts.push(`${health.width}×${health.height} @ ${Math.round(health.fps)} fps`);
  if (health.freezes) parts.push(`${health.freezes} freezes`);
  return parts.join(' · ');
}

// The Markdown tables of a benchmark run, from its report.json and
// details.json alone: run-bench.mjs prints them (and writes report.md), and
// update-docs.mjs puts a kept run's tables into docs/benchmarks.md, so the
// figures in the docs are never typed by hand.

export function summary(samples) {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const pick = (p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;
  const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);
  return { p50: r1(pick(50)), p95: r1(pick(95)), n: sorted.length };
}

export function reportTables(report, details) {
  const fmt = (s) => (s && s.n ? `${s.p50} | ${s.p95} | ${s.n}` : '– | – | 0');
  const check = (ok) => (ok === null ? '' : ok ? 'met' : 'missed');
  const lines = [];
  const setup = report.setup_ms;
  const g2g = report.glass_to_glass_ms;
  lines.push('| measurement | path | p50 ms | p95 ms | n | target |', '|---|---|---|---|---|---|');
  const row = (what, pathName, s, target, ok) => lines.push(`| ${what} | ${pathName} | ${fmt(s)} | ${target}${target ? ` (${check(ok)})` : ''} |`);
  if (setup.gst_gst) {
    row('join → first frame', 'gst → gst', setup.gst_gst, 'p50 ≤ 250', setup.gst_gst.p50 <= 250);
    row('join → first frame', 'gst → gst, fresh receiver process', details.setup_fresh_process, '', null);
    row('join → first frame', 'gst → browser', setup.gst_browser, 'p50 ≤ 400', setup.gst_browser.p50 <= 400);
    row('join → first frame', 'browser → gst', setup.browser_gst, 'p50 ≤ 400', setup.browser_gst.p50 <= 400);
    row('join → first frame', 'browser → browser (anchor)', setup.browser_browser, '', null);
    const phases = details.setup_phases ?? [];
    const med = (key) => summary(phases.map((p) => p[key]).filter((x) => x >= 0)).p50;
    lines.push(`| (gst receiver, median of every call) | join-room → joined ${med('joined_ms')} ms → peer connected ${med('connected_ms')} ms → first frame ${med('setup_ms')} ms | | | | |`);
  }
  if (g2g.gst_gst) {
    row('glass to glass', 'gst → gst', g2g.gst_gst, 'p50 ≤ 60', g2g.gst_gst.p50 <= 60);
    row('glass to glass', 'gst → gst, shown by a synchronising sink', details.g2g_gst_gst_shown, '', null);
    row('glass to glass', 'gst → browser', g2g.gst_browser, '', null);
    row('glass to glass', 'browser → browser (anchor)', g2g.browser_browser, '', null);
  }
  if (report.relay.p2pcall) {
    const p = report.relay.p2pcall;
    const n = report.relay.node_ws;
    lines.push('', '| relay | p2pcall-server | Node ws (seed protocol) | target |', '|---|---|---|---|');
    for (const size of ['c100', 'c1000']) {
      if (!p[size]) continue;
      lines.push(`| ${size.slice(1)} connections, msg/s | ${p[size].msgs_per_s} | ${n[size].msgs_per_s} | ≥ 2× Node (${check(p[size].msgs_per_s >= 2 * n[size].msgs_per_s)}: ${(p[size].msgs_per_s / n[size].msgs_per_s).toFixed(2)}×) |`);
      lines.push(`| ${size.slice(1)} connections, p50 / p99 ms | ${p[size].p50_ms} / ${p[size].p99_ms} | ${n[size].p50_ms} / ${n[size].p99_ms} | p99 no worse (${check(p[size].p99_ms <= n[size].p99_ms)}) |`);
    }
    for (const size of Object.keys(p.idle_kib_per_conn)) {
      lines.push(`| ${size.slice(1)} idle connections, KiB each | ${p.idle_kib_per_conn[size]} | ${n.idle_kib_per_conn[size]} | no more than Node (${check(p.idle_kib_per_conn[size] <= n.idle_kib_per_conn[size])}) |`);
    }
  }
  if (report.sender_cpu_ratio_8_1 !== null) {
    lines.push('', '| viewers | 1 | 2 | 4 | 8 | cpu(8)/cpu(1) |', '|---|---|---|---|---|---|');
    const c = report.sender_cpu_s;
    lines.push(`| sender CPU s per 10 s | ${c[1]} | ${c[2]} | ${c[4]} | ${c[8]} | ${report.sender_cpu_ratio_8_1} (target ≤ 2.0: ${check(report.sender_cpu_ratio_8_1 <= 2)}) |`);
    const kbps = (n) => details.sender[n]?.total_kbps ?? '?';
    lines.push(`| sent, kbit/s (all peers) | ${kbps(1)} | ${kbps(2)} | ${kbps(4)} | ${kbps(8)} | |`);
  }
  if (report.adaptive.capped) {
    const a = report.adaptive;
    const cap = details.adaptive.cap_bytes_per_second * 8 / 1000;
    lines.push('', `| adaptive, 8 viewers | fps | kbit/s | freezes > 1 s | target |`, '|---|---|---|---|---|');
    lines.push(`| 4 capped (relayed, ${cap} kbit/s) | ${a.capped.fps} | ${a.capped.kbps} | ${a.capped.freezes} | ≥ 10 fps, no freeze, ≤ cap (${check(a.capped.fps >= 10 && a.capped.freezes === 0 && a.capped.kbps <= cap)}) |`);
    lines.push(`| 4 direct | ${a.direct.fps} | ${a.direct.kbps} | ${a.direct.freezes} | ≥ 25 fps (${check(a.direct.fps >= 25)}) |`);
    const c = details.adaptive.sender_cpu_s;
    lines.push(`| sender CPU s per 10 s, 1 → 8 viewers | ${c[1]} → ${c[8]} | | | ratio ${a.sender_cpu_ratio_8_1} |`);
  }
  const v = details.versions;
  lines.push('', `${details.started.slice(0, 10)}, ${v.cpus} cores (${v.cpu}), p2pcall ${v.p2pcall}, GStreamer ${v.gstreamer}, Chromium ${v.chromium}, Node ${v.node}${details.quick ? ', quick mode' : ''}.${v.load_average ? ` Load average (1, 5, 15 min) ${details.load_average_at_start?.join(' / ') ?? '?'} at the start, ${v.load_average.join(' / ')} at the end.` : ''}`);
  return lines.join('\n');
}

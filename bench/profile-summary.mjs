/**
 * Summarises `.cpuprofile` files (from `BENCH_CPU_PROF=1 npm run bench`): the top functions by self time, and
 * the top packages/files by self time, so a profile can be read without DevTools.
 *
 *   node bench/profile-summary.mjs <profile file or directory> [top=25] [lastSeconds]
 *
 * A directory is searched recursively; each profile is summarised on its own. With `lastSeconds`, only the
 * samples of the profile's last seconds count: with `BENCH_CASES=me` the measured case runs just before the
 * stack stops, so this leaves start-up (module loading, compilation) out.
 */
import fs from 'node:fs';
import path from 'node:path';

const [target, topArg, lastArg] = process.argv.slice(2);
if (!target) {
  console.error('usage: node bench/profile-summary.mjs <profile file or directory> [top=25]');
  process.exit(2);
}
const TOP = Number(topArg ?? 25);
const LAST_US = lastArg ? Number(lastArg) * 1e6 : Infinity;

function profilesIn(entry) {
  if (fs.statSync(entry).isFile()) return [entry];
  return fs
    .readdirSync(entry, { withFileTypes: true })
    .flatMap((d) => profilesIn(path.join(entry, d.name)))
    .filter((file) => file.endsWith('.cpuprofile'));
}

/** `node_modules/@scope/pkg`, `node_modules/pkg`, a workspace folder, or `(node)` for Node's own code. */
function ownerOf(url) {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return '(node)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const m = /\/work\/[^/]+\/(.+?\/src)\//.exec(url) ?? /\/((?:gateway|packages|subgraphs)\/[^/]+)/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '');
}

function summarise(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // samples[i] took timeDeltas[i+1] (the first delta is the gap before sampling started).
  const { samples, timeDeltas } = profile;
  const from = profile.endTime - LAST_US;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i += 1) {
    at += timeDeltas[i] ?? 0;
    if (at < from) continue;
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  let total = 0;
  const fns = new Map();
  const owners = new Map();
  for (const [id, us] of self) {
    total += us;
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url
      ? `${callFrame.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '')}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${name} ${where}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const owner = ['(idle)', '(program)', '(garbage collector)'].includes(name)
      ? name
      : ownerOf(callFrame.url);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const busy = total - (owners.get('(idle)') ?? 0);
  console.log(`\n== ${file}`);
  console.log(`sampled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${pct(busy)})`);
  console.log(`-- by package/file (self time)`);
  for (const [owner, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${pct(us)}  ${owner}`);
  }
  console.log(`-- by function (self time)`);
  for (const [key, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${pct(us)}  ${key}`);
  }
}

for (const file of profilesIn(target)) summarise(file);

// Prints where a V8 CPU profile (node --cpu-prof; `npm run bench -- --profile DIR`)
// spends its time: by package/area, then the heaviest functions by self and by
// total (inclusive) time. A text stand-in for a flame graph; for the graph itself
// open the .cpuprofile in Chrome DevTools (Performance) or https://www.speedscope.app.
//
//   npx tsx bench/profile-summary.ts FILE.cpuprofile [top=25] [requests]
// With the run's response count (bench/results.json), times are also shown in µs per request.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/**
 * Where a piece of JavaScript comes from: the package under node_modules,
 * Node's own module (`node:internal/streams/writable`), or the service's built
 * file (`chunks/app-….js`, `plugins/app/authenticate.js`).
 */
function codeArea (location: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/:\s]+)/.exec(location)?.[1] ??
    /(node:[\w/]+)/.exec(location)?.[1] ??
    /\/dist\/([^:\s]+)/.exec(location)?.[1]
}

const [file, topArg, requestsArg] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [top] [requests]\n')
  process.exit(2)
}
// Piped into head & co.: stop quietly when the reader has had enough.
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); else throw err })
const top = Number(topArg ?? 25)
const requests = requestsArg === undefined ? undefined : Number(requestsArg)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

// Self time per node from the samples and their time deltas (µs).
const self = new Map<number, number>()
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
const busy = total - [...idleIds].reduce((a, id) => a + (self.get(id) ?? 0), 0)

function area (frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') return functionName.startsWith('(') ? functionName : '(native/builtin)'
  return codeArea(url) ?? url
}
const label = (frame: CallFrame): string => `${frame.functionName || '(anonymous)'} ${area(frame)}:${frame.lineNumber + 1}`

const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%` +
  (requests === undefined ? '' : `  ${(us / requests).toFixed(2).padStart(7)} µs/req`)
const add = (map: Map<string, number>, key: string, v: number): Map<string, number> => map.set(key, (map.get(key) ?? 0) + v)

const areas = new Map<string, number>()
const selfByFn = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, us] of self) {
  if (idleIds.has(id)) continue
  const node = byId.get(id)
  if (node === undefined) continue
  add(areas, area(node.callFrame), us)
  add(selfByFn, label(node.callFrame), us)
  // Every distinct function on the stack gets the sample once (recursion counted once).
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const frame = byId.get(cur)?.callFrame
    if (frame === undefined) break
    const key = label(frame)
    if (!seen.has(key)) { seen.add(key); add(inclusive, key, us) }
  }
}

const print = (title: string, map: Map<string, number>, n: number): void => {
  process.stdout.write(`\n${title}\n`)
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`  ${pct(v)}  ${k}\n`)
}
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages are of busy time)` +
  (requests === undefined ? '' : `, ${(busy / requests).toFixed(1)} µs busy per request`) + '\n')
print('by area (self time)', areas, top)
print('functions by self time', selfByFn, top)
print('functions by total time', inclusive, top)

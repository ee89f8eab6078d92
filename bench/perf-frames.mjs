// Reads `perf script` output (samples with call stacks, from
// `perf record -g` on a node started with --perf-basic-prof-only-functions)
// and charges each sample to its innermost JavaScript frame, grouped by package
// (node_modules/<name>), by the service's own file (dist/…) or by Node's
// module (node:…): what each part costs including the native code and the
// syscalls it calls. Samples with no JavaScript frame are "(gc)" or "(native)".
//
//   perf script -i perf.data | node bench/perf-frames.mjs [--rps N] [--seconds S] [--hz F] [--top N]
//
// With --rps (the load's requests/s while recording), --seconds and --hz
// (perf record's -F), each line also gives microseconds per request.
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { codeArea } from './lib/code-area.mjs'

const { values } = parseArgs({ options: { rps: { type: 'string' }, seconds: { type: 'string', default: '5' }, hz: { type: 'string', default: '2000' }, top: { type: 'string', default: '30' } } })

const groupOf = (frame) => codeArea(frame) ?? '(JavaScript, no file)'

const groups = new Map()
let total = 0
let frames = []
const charge = () => {
  if (frames.length === 0) return
  total++
  const js = frames.find((f) => f.includes('JS:'))
  const group = js !== undefined ? groupOf(js) : (/Scaveng|Heap|MarkCompact/.test(frames.join(' ')) ? '(gc)' : '(native)')
  groups.set(group, (groups.get(group) ?? 0) + 1)
  frames = []
}
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') charge()
  else if (/^\s/.test(line)) frames.push(line.trim())
}
charge()

// One sample stands for 1/hz s of CPU; the recording saw rps × seconds requests.
const usPerSample = values.rps === undefined ? undefined : (1e6 / Number(values.hz)) / (Number(values.rps) * Number(values.seconds))
process.stdout.write(`${total} samples\n`)
for (const [group, n] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  const us = usPerSample === undefined ? '' : `  ${(n * usPerSample).toFixed(2).padStart(7)} µs/request`
  process.stdout.write(`${(100 * n / total).toFixed(2).padStart(6)} %${us}  ${group}\n`)
}

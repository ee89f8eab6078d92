// Where a piece of JavaScript comes from, for the profile readers
// (bench/profile-summary.mjs, bench/perf-frames.mjs): the package under
// node_modules, Node's own module (`node:internal/streams/writable`), or the
// service's compiled file (`src/log.js`, `plugins/app/authenticate.js`). The
// location is a URL or a path, possibly followed by `:line:column` and more
// text, as V8's profiles and perf's JIT map write them. Undefined when it is
// none of those.
export function codeArea (location) {
  return /node_modules\/((?:@[^/]+\/)?[^/:\s]+)/.exec(location)?.[1] ??
    /(node:[\w/]+)/.exec(location)?.[1] ??
    /\/dist\/([^:\s]+)/.exec(location)?.[1]
}

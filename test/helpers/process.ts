/**
 * The environment for a child process a test spawns (the server, the command
 * line, a tap file run as a plain script): this process's, without the test
 * runner's own (tap's NODE_OPTIONS would load its hooks into the child, and its
 * TAP* variables would make the child report as one of its jobs), plus `env`.
 */
export function childEnv (env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAPJS')) continue
    base[k] = v
  }
  return { ...base, ...env }
}

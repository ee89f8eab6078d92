/*
 * fastify-plugin, which every plugin of plugins/ and several bundled packages
 * wrap themselves in: bundled at build like typebox.ts, so that it is one
 * copy, compiled once, rather than a package resolved from each of twenty
 * files at every start.
 */
export { default } from 'fastify-plugin'

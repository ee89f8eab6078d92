/*
 * TypeBox's schema builder, imported by the service from here only.
 *
 * TypeBox is hundreds of small ES modules (373 loaded at start): Node 20's loader took 180–220 ms of
 * the start to find, read and link them (on a machine whose start was 1.2 s),
 * for a builder that runs once per schema. `npm run build` therefore bundles
 * it with the other packages of src/vendor/ into one CommonJS file, which a
 * start loads from V8's code cache (scripts/bundle-vendor.mjs,
 * src/code-cache.ts), and replaces this file's compiled form,
 * dist/src/vendor/typebox.js, with a stub that takes its exports from there.
 * From the sources (tests, `npm run dev`) it is the package itself.
 */
export { Type } from 'typebox'
export type { Static } from 'typebox'

/*
 * TypeBox's schema builder, imported by the service from here only.
 *
 * TypeBox is about 700 small ES modules: Node 20's loader took 120–160 ms of
 * the start to read and link them, for a builder that runs once per schema.
 * `npm run build` therefore replaces this file's compiled form,
 * dist/src/typebox.js, with one module bundled by esbuild (scripts/bundle-typebox.mjs):
 * about 10 ms. From the sources (tests, `npm run dev`) it is the package itself.
 */
export { Type } from 'typebox'
export type { Static } from 'typebox'

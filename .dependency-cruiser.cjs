// The layout check run by `npm test` (STYLE.md, "Layout"): every folder under src/ is a part whose
// index.ts is its door; the files directly under src/ are the kernel. `npx depcruise src` runs it.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'An import cycle: move what both sides need into a module that neither imports back.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'part-through-door',
      comment:
        "A part imports another part's files only through that part's index.ts: import the door, and export what is needed there.",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'kernel-through-door',
      comment: 'The CLI loads a part through its index.ts only.',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: '^src/[^/]+/index\\.ts$' },
    },
    {
      name: 'kernel-imports-no-part',
      comment: 'The kernel (files directly under src/) is what parts build on; only cli.ts loads parts.',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'panel-knows-analytics-by-url',
      comment:
        "The panel reads analytics over HTTP only (CONTRACT.md); it imports neither analytics nor the store, except the types of analytics' answers (shapes.ts, through the door), which the bundle erases.",
      severity: 'error',
      // The swc parser does not tell type-only imports apart, so the one file that imports the
      // answers' types is named; its import is `import type` (the bundle holds no analytics code).
      from: { path: '^src/panel/', pathNot: '^src/panel/web/src/api\\.ts$' },
      to: { path: '^src/(analytics|store)/' },
    },
  ],
  options: {
    // TypeScript 7 has no compiler API for dependency-cruiser to parse with; swc reads .ts itself.
    parser: 'swc',
    // Type-only imports count: a cycle through types is still a cycle for a reader.
    tsPreCompilationDeps: true,
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
  },
};

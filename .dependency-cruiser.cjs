/**
 * Layers point down only (docs/architecture.md): cli → commands → output and the domain;
 * the domain never reaches up. `npm test` runs this (`npm run lint:deps`), so a wrong arrow
 * fails CI. Type-only imports count: an interface borrowed from a layer above is an arrow up too.
 */
const DOMAIN = '^src/(inventory|procedure|targets|ledger|rollout|clone|cloud-init|smoke|input|workspace|report)/';
/** what both sides import: the events and reporter interface, the clock, the error tree */
const NEUTRAL = '^src/(events|clock|errors)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-not-up',
      severity: 'error',
      comment: 'domain code takes plain options and emits events (src/events.ts); it never imports commands, output or the CLI',
      from: { path: [DOMAIN, NEUTRAL] },
      to: { path: '^src/(commands|output)/|^src/cli\\.ts$' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'src/cli.ts is the entry point (and the only place that sets an exit code)',
      from: { path: '^src/' },
      to: { path: '^src/cli\\.ts$' },
    },
    {
      name: 'output-not-commands',
      severity: 'error',
      comment: 'output formats results and events; it knows nothing of commands',
      from: { path: '^src/output/' },
      to: { path: '^src/commands/' },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'modules that import each other (type-only imports count): split out what both need',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

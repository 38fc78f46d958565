// Where a no-op deploy's start-up CPU goes (issue 14): each dependency imported in the order a
// deploy needs it, in this fresh process, with the CPU it added. Printed by bench/startup.mjs.
const base = process.cpuUsage();
let last = 0;
const rows = [];
async function step(name, work) {
  await work();
  const used = process.cpuUsage(base);
  const now = (used.user + used.system) / 1e6;
  rows.push([name, now - last]);
  last = now;
}
const dist = new URL('../dist/', import.meta.url);
await step('yaml (parse sites.yaml)', () => import('yaml'));
await step('semver', () => import('semver'));
await step('liquidjs (templates)', () => import('liquidjs'));
await step('chalk (reporter)', () => import('chalk'));
let compile;
await step("ajv + ajv-formats (compiler for the procedures' value schemas)", async () => (compile = await import(new URL('input/compile-schema.js', dist))));
await step('ajv: meta-schema, first check', () => compile.checkSchemaAgainstMeta({ type: 'object' }));
await step('ozg modules (workspace, rollout)', async () => {
  await import(new URL('workspace/workspace.js', dist));
  await import(new URL('rollout/deploy-rollout.js', dist));
});
process.stdout.write(JSON.stringify(rows));

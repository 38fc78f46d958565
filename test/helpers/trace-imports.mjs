// Preloaded with `node --import`: records every module URL the program resolves into the file
// named by OZG_TRACE_IMPORTS, so a test can check which dependencies a command loads.
import { register } from 'node:module';

register('./trace-imports-hooks.mjs', import.meta.url, { data: { file: process.env.OZG_TRACE_IMPORTS } });

#!/usr/bin/env node
// The tensor-box CLI entry: loads the TypeScript sources through tsx and is the only place that calls process.exit.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));

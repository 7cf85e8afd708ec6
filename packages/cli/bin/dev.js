#!/usr/bin/env node
// The CLI straight from its TypeScript sources through tsx, for tests and development in this repository (`tensor-box`
// resolves to packages/sdk/src through the root tsconfig's paths). Users get dist/tensor-box.js, built from src/bin.ts.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
await import('../src/bin.ts');

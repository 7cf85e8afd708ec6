#!/usr/bin/env node
/**
 * The `tensor-box` command (built to dist/tensor-box.js, the package's bin): runs main() and is the only place that
 * sets the process's exit code.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));

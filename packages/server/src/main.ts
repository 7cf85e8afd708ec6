/**
 * `npm start` entry: reads the configuration from the environment, builds the default template on first run with a
 * progress bar on stderr, serves, and prints where and with which key.
 */
import { configFromEnv, startServer } from './index.js';

function progressBar() {
  let last = '';
  const tty = process.stderr.isTTY;
  return (fraction: number, message: string) => {
    const pct = Math.max(0, Math.min(1, fraction));
    const width = 30;
    const filled = Math.round(pct * width);
    const line = (
      `building default template [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
      `${String(Math.round(pct * 100)).padStart(3)}% ${message}`
    ).slice(0, 120);
    if (line === last) return;
    last = line;
    if (tty) process.stderr.write(`\r\x1b[2K${line}${pct >= 1 ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  };
}

async function main() {
  const config = configFromEnv();
  const server = await startServer(config, {
    onProgress: progressBar(),
    log: (m) => process.stderr.write(`[tensor-box] ${m}\n`),
  });
  const out = process.stderr;
  out.write(`\nTensor Box is running at ${server.url}\n`);
  out.write(`  console:   ${server.url}/ (sign in with the API key)\n`);
  out.write(`  data dir:  ${config.dataDir}\n`);
  const note = server.apiKeyGenerated
    ? '  (generated now, kept in <data dir>/admin-key; set TENSOR_BOX_API_KEY to choose one)'
    : '';
  if (!server.apiKey)
    out.write('  admin key: made by another node sharing this database; set TENSOR_BOX_API_KEY on every node\n');
  else out.write(`  admin key: ${server.apiKey}${note}\n`);
  out.write(`  SDK/CLI:   export TENSOR_BOX_DOMAIN=${server.url} TENSOR_BOX_API_KEY=${server.apiKey}\n`);
  out.write(
    `  e2b SDKs:  export E2B_API_URL=${server.url} E2B_SANDBOX_URL=${server.url} E2B_API_KEY=${server.apiKey}\n\n`,
  );
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`tensor-box: ${err?.message ?? err}\n`);
  process.exit(1);
});

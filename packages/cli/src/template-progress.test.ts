/** Unit tests of the build progress output: plain lines off a terminal, a bar that tracks `[i/n]` lines on one. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BuildProgress } from './template-progress.js';

function fakeStream(isTTY: boolean, columns = 60) {
  const writes: string[] = [];
  return {
    writes,
    stream: { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream,
  };
}
const entry = (message: string) => ({ timestamp: new Date(), level: 'info' as const, message });

describe('BuildProgress', () => {
  it('prints the log as plain lines when stderr is not a terminal', () => {
    const { writes, stream } = fakeStream(false);
    const p = new BuildProgress(stream);
    p.log(entry('[1/2] RUN make'));
    p.log(entry('output\n'));
    p.end();
    assert.deepEqual(writes, ['[1/2] RUN make\n', 'output\n']);
  });

  it('on a terminal, prints lines above a bar drawn from the [i/n] lines and removes it at the end', () => {
    const { writes, stream } = fakeStream(true, 50);
    const p = new BuildProgress(stream);
    p.log(entry('[1/4] RUN apt-get update && apt-get install -y a-very-long-list-of-packages'));
    p.log(entry('Reading package lists...'));
    p.log(entry('[3/4] COPY app /app'));
    p.end();
    const text = writes.join('');
    assert.match(text, /\[1\/4\] RUN apt-get update/); // the log line itself, in full
    assert.match(text, /Reading package lists\.\.\.\n/);
    const bars = writes.filter((w) => w.startsWith('['));
    assert.ok(
      bars.some((b) => / 1\/4 RUN apt-get/.test(b)),
      bars.join('\n'),
    );
    assert.ok(
      bars.every((b) => [...b].length <= 49),
      bars.join('\n'),
    ); // fits the terminal
    const last = bars.at(-1)!;
    assert.match(last, /^\[█{12}░{12}\] 3\/4 COPY app \/app \d+s$/); // 2 of 4 steps done
    assert.equal(writes.at(-1), '\r\x1b[K'); // the bar is gone at the end
  });
});

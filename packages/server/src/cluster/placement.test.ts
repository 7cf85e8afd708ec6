/** Placement: most free slots (counting records and starts in flight), then free memory, then the node asked. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRecord } from '../store/store.js';
import { place } from './placement.js';

const node = (nodeId: string, o: Partial<NodeRecord> = {}): NodeRecord => ({
  nodeId,
  address: `http://${nodeId}`,
  state: 'alive',
  cpuCount: 2,
  memoryMB: 4096,
  freeMemoryMB: 1000,
  sandboxSlots: 10,
  runningSandboxes: 0,
  registeredAt: 0,
  heartbeatAt: 0,
  nowMs: 0,
  ...o,
});

describe('placement', () => {
  it('picks the node with the most free slots, counting starts in flight', () => {
    const nodes = [node('a'), node('b'), node('c')];
    const running = new Map([
      ['a', 3],
      ['b', 1],
      ['c', 2],
    ]);
    assert.equal(place({ nodes, selfId: 'a', running, inFlight: new Map() })?.nodeId, 'b');
    assert.equal(place({ nodes, selfId: 'a', running, inFlight: new Map([['b', 2]]) })?.nodeId, 'c');
  });

  it('breaks ties by free memory, then prefers the node asked', () => {
    const nodes = [node('a'), node('b', { freeMemoryMB: 2000 }), node('c')];
    assert.equal(place({ nodes, selfId: 'c', running: new Map(), inFlight: new Map() })?.nodeId, 'b');
    const even = [node('a'), node('b'), node('c')];
    assert.equal(place({ nodes: even, selfId: 'c', running: new Map(), inFlight: new Map() })?.nodeId, 'c');
  });

  it('never picks a draining or dead node, or a full one; none left: undefined', () => {
    const nodes = [node('a', { state: 'draining' }), node('b', { state: 'dead' }), node('c', { sandboxSlots: 1 })];
    assert.equal(place({ nodes, selfId: 'a', running: new Map(), inFlight: new Map() })?.nodeId, 'c');
    assert.equal(place({ nodes, selfId: 'a', running: new Map([['c', 1]]), inFlight: new Map() }), undefined);
  });
});

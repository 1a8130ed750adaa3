//# allFunctionsCalledOnLoad
// Test hooks (tests/e2e; docs/PROTOCOL.md 12.12), installed only when this origin's
// localStorage key "parley-test-hooks" is "1" at log-in: a session's sealed state kept and later
// put back, as a restored backup would (a session rolled back cannot read what the peer sent after
// the snapshot), and whether a link runs over a TURN relay.
const TEST_HOOKS_KEY = 'parley-test-hooks';

export const testHookMethods = {
  installTestHooks() {
    let on = false;
    try {
      on = globalThis.localStorage?.getItem(TEST_HOOKS_KEY) === '1';
    } catch {
      on = false;
    }
    if (!on) return;
    const snapshots = new Map();
    globalThis.parleyTestHooks = {
      snapshotSession: (name) => this.serial(async () => {
        const s = await this.session(name);
        if (!s) throw new Error(`no session with ${name}`);
        snapshots.set(name, this.vault.sessionRecord(name, s));
      }),
      restoreSession: (name) => this.serial(async () => {
        const record = snapshots.get(name);
        if (!record) throw new Error(`no snapshot of the session with ${name}`);
        this.dropSession(name);
        await this.vault.putMany([record]);
      }),
      relayed: (name) => this.links.get(name)?.relayed() ?? false,
      listed: (name) => this.listedDevices(name),
      ownDevices: () => this.ownDevices,
      // A transcript as the vault holds it (read and unsealed from IndexedDB, not from memory).
      storedHistory: (name) => this.serial(() => this.loadHistory(name)),
      // This page's queue held until releaseQueue() (as when it is busy with a long task).
      holdQueue: () => {
        const held = new Promise((resolve) => {
          this.releaseHeld = resolve;
        });
        this.serial(() => held);
      },
      releaseQueue: () => this.releaseHeld?.(),
      // Link messages from name waiting for the queue; the sizes of the batches taken (inbox.js).
      linkWaiting: (name) => this.dataIn?.get(name)?.length || 0,
      linkBatches: () => [...(this.linkBatches || [])],
    };
  },
};

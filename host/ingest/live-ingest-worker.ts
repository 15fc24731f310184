// The child process of LiveIngest: follows the capture as it grows and stores its frames.
import { CaptureReader } from '../capture/reader.js';
import { stopYielding, yieldToOthers } from './background-priority.js';
import { IngestDriver } from './ingest-driver.js';
import type { LiveIngestReport, LiveIngestRequest } from './live-ingest.js';

/** Commit about this often, so readers following the trace (replay --follow) see it move. */
const COMMIT_MS = 1000;
const [capturePath, dbPath] = process.argv.slice(2);
const report = (m: LiveIngestReport) => process.send!(m);

// While the target is recorded it comes first: this process takes what CPU it leaves.
yieldToOthers();

const reader = CaptureReader.open(capturePath);
const driver = new IngestDriver(reader, dbPath, { aside: false, commitEvery: { ms: COMMIT_MS } },
  (message) => report({ type: 'warning', message }));

// It ends once nothing is connected: after its last report (LiveIngest disconnects then), or when the recording process is gone (killed).
process.on('message', (m: LiveIngestRequest) => {
  try {
    // Recording is over: what is left is the user's wait for the trace.
    if (m.type === 'finish') stopYielding();
    driver.storeTo(m.end);
    report({ type: 'progress', stored: driver.storedEvents });
    if (m.type === 'grown') return;
    driver.finish();
    reader.close();
    report({ type: 'done', stored: driver.storedEvents });
  } catch (e) {
    driver.fail(e);
    report({ type: 'failed', message: (e as Error).message });
  }
});

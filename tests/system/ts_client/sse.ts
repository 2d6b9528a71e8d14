// The SDK hey-api/openapi-ts generates from /api/schema, subscribing to the queue's event stream through its SSE
// method with zod validating each event (issue 22 item 14; tests/system/test_openapi_generated_clients.py).
// Type-checked with `tsc --strict`, then run:
//   node out/sse.js BASE_URL  ->  prints the first queue snapshot and the errors the client reported
import { client } from "./heyapi/client.gen.js";
import { tasksQueue } from "./heyapi/sdk.gen.js";
import type { QueueSnapshot } from "./heyapi/types.gen.js";

declare const process: { argv: string[]; exitCode?: number }; // Node's, without @types/node

client.setConfig({ baseUrl: process.argv[2] });
const errors: string[] = [];
const stop = new AbortController();
const { stream } = await tasksQueue({
  signal: stop.signal,
  sseMaxRetryAttempts: 1, // a rejected event ends the stream instead of reconnecting
  onSseError: (error) => errors.push(String(error)),
});
let first: QueueSnapshot | undefined;
for await (const snapshot of stream) {
  first = snapshot;
  break;
}
stop.abort();
console.log(JSON.stringify({
  snapshot: first && { queueLength: first.queue_length, waiting: first.queue.map((task) => task.id),
                       running: first.current_task },
  errors,
}));

// Worker thread for the data pipeline: runs one shard task per message.
import { parentPort } from 'node:worker_threads';
import { runShardTask, type ShardTask } from './shard-tasks.js';

parentPort!.on('message', (task: ShardTask) => {
  runShardTask(task).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (e: Error) => parentPort!.postMessage({ ok: false, error: `${task.kind} ${task.input}: ${e.message}` }),
  );
});

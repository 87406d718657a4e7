// The process-wide worker pool: one set of threads, sized to the machine, that every export's CPU work runs on.
// Concurrent exports share it instead of each starting its own threads, so N exports at once never run more
// than the machine's hardware threads (their tasks queue and run in submission order).
#pragma once
#include <functional>

namespace mcore {

/** Threads of the pool: std::thread::hardware_concurrency() (at least 1). */
unsigned workerPoolSize();

/**
 * Runs `task` on `copies` pool threads at once (fewer run concurrently when the pool is busy or smaller) and
 * returns when all copies have returned. `task` must not throw (catch inside) and must not wait on the pool.
 * Called from a thread outside the pool (the AsyncWorker's); the pool starts on first use and lives as long
 * as the process.
 */
void runOnWorkerPool(unsigned copies, const std::function<void()>& task);

}  // namespace mcore

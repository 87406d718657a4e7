#include "worker_pool.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace mcore {

namespace {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned n) {
    threads_.reserve(n);
    for (unsigned i = 0; i < n; i++) threads_.emplace_back([this] { loop(); });
  }
  // never destroyed (see pool()): threads blocked in loop() end with the process

  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
};

WorkerPool& pool() {
  // leaked on purpose: a static destructor would have to join threads that may still be waiting at exit
  static WorkerPool* p = new WorkerPool(workerPoolSize());
  return *p;
}

}  // namespace

unsigned workerPoolSize() { return std::max(1u, std::thread::hardware_concurrency()); }

void runOnWorkerPool(unsigned copies, const std::function<void()>& task) {
  std::mutex m;
  std::condition_variable done;
  unsigned left = copies;
  for (unsigned i = 0; i < copies; i++) {
    pool().submit([&] {
      task();
      std::lock_guard<std::mutex> lock(m);
      if (--left == 0) done.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(m);
  done.wait(lock, [&] { return left == 0; });
}

}  // namespace mcore

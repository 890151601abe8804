// SnapshotPublisher (dataplane/worker/publisher.*): a publish never waits for the workers; a
// retired Snapshot is freed only once every worker has reported a quiescent state since, or
// once a reclaim that waits has seen them all move past it.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "dataplane/snapshot.h"
#include "dataplane/worker/publisher.h"

using namespace shoal::dp;

namespace {

std::unique_ptr<Snapshot> one_port_snapshot() {
  SnapshotSpec spec;
  spec.ports.resize(1);
  std::string error;
  auto s = Snapshot::build(spec, &error);
  INFO(error);
  REQUIRE(s);
  return s;
}

}  // namespace

TEST_CASE("publisher: a publish does not wait for a worker that has not moved on", "[publisher]") {
  SnapshotPublisher publisher(2);
  publisher.register_worker(0);
  publisher.register_worker(1);
  publisher.publish(one_port_snapshot());
  const Snapshot* first = publisher.current();
  publisher.quiescent(0);
  publisher.quiescent(1);

  // Worker 1 still reads `first` (no quiescent state reported since the swap).
  publisher.publish(one_port_snapshot());
  CHECK(publisher.current() != first);
  CHECK(publisher.retired() == 1);
  publisher.quiescent(0);
  publisher.reclaim();
  CHECK(publisher.retired() == 1);  // worker 1 may still hold it
  publisher.quiescent(1);
  publisher.reclaim();
  CHECK(publisher.retired() == 0);

  SECTION("reclaim(wait) waits for the workers to move past the retired Snapshot") {
    publisher.publish(one_port_snapshot());
    CHECK(publisher.retired() == 1);
    // An offline worker holds nothing: the wait passes it by. Worker 0 reports from another
    // thread while the main one waits for it.
    publisher.unregister_worker(1);
    std::atomic<bool> done{false};
    std::thread worker([&] {
      while (!done.load()) publisher.quiescent(0);
    });
    publisher.reclaim(/*wait=*/true);
    done = true;
    worker.join();
    CHECK(publisher.retired() == 0);
  }
  publisher.unregister_worker(0);
}

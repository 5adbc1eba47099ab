// Crash-test helper: opens a backend's storage (open_storage) and prints "open", then appends from
// several threads until killed, each batch with one outbox call, printing "SEQ TEXT" for every
// event once its append completion reports it durable.
//   journal_crash_writer KEY TAG BACKEND LOCATION...   (sqlite: JOURNAL_FILE OUTBOX_FILE;
//                                                       redis: HOST PORT STORE)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rescue/storage/open_storage.hpp"

namespace {

// One write() per completion: lines never interleave, and a kill can only cut the last one.
void write_all(const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: journal_crash_writer KEY TAG BACKEND LOCATION...\n");
    return 2;
  }
  rescue::storage::storage_config config;
  config.signing_key_path = argv[1];
  const std::string tag = argv[2];
  config.backend = argv[3];
  if (config.backend == "sqlite" && argc == 6) {
    config.journal_path = argv[4];
    config.outbox_path = argv[5];
  } else if (config.backend == "redis" && argc == 7) {
    config.redis.endpoint.host = argv[4];
    config.redis.endpoint.port = std::atoi(argv[5]);
    config.redis.store = argv[6];
  } else {
    std::fprintf(stderr, "journal_crash_writer: unknown backend or locations\n");
    return 2;
  }
  config.checkpoint_every_records = 40;
  config.checkpoint_every = std::chrono::milliseconds(30);
  std::error_code ec;
  auto storage = rescue::storage::open_storage(config, ec);
  if (!storage.journal) {
    std::fprintf(stderr, "open: %s\n", ec.message().c_str());
    return 1;
  }
  auto& journal = storage.journal;
  // The test starts its random kill delay from here: a loaded machine may take longer to start
  // the process than the delay, and a round killed before the journal exists checks nothing.
  write_all("open\n");

  constexpr int producers = 4;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint64_t n = 0;; ++n) {
        // Batches of 1 to 3 events, each naming itself so the test can check the payload.
        std::vector<rescue::v1::Event> batch;
        std::vector<std::string> texts;
        for (std::uint64_t k = 0; k <= n % 3; ++k) {
          rescue::v1::Event e;
          e.set_incident_id(static_cast<std::uint64_t>(p) + 1);
          e.set_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(n));
          texts.push_back(tag + "/" + std::to_string(p) + "/" + std::to_string(n) + "/" +
                          std::to_string(k));
          e.mutable_note()->set_text(texts.back());
          batch.push_back(std::move(e));
        }
        // The call names its batch: it must be stored exactly when the batch's events are.
        std::vector<rescue::storage::outbox_message> call{
            {"crash_test", static_cast<std::uint64_t>(p) + 1, "",
             tag + "/" + std::to_string(p) + "/" + std::to_string(n)}};
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        journal->append(std::move(batch), std::move(call),
                        [done, &texts](std::error_code ec, std::vector<std::uint64_t> seqs) {
                          if (!ec) {
                            std::string lines;
                            for (std::size_t i = 0; i < seqs.size(); ++i)
                              lines += std::to_string(seqs[i]) + " " + texts[i] + "\n";
                            write_all(lines);
                          }
                          done->set_value();
                        });
        finished.wait();
      }
    });
  }
  for (auto& t : threads)
    t.join();
}

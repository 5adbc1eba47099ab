// Helpers shared by the journal tests: scratch directories, sample events, blocking appends.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "rescue/journal.pb.h"
#include "rescue/storage/journal.hpp"

namespace rescue::test {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class scratch_dir {
 public:
  scratch_dir() {
    std::string templ = (std::filesystem::temp_directory_path() / "journal-test-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline rescue::v1::Event note_event(std::uint64_t incident, const std::string& text,
                                    std::int64_t at_ms = 1'700'000'000'000) {
  rescue::v1::Event e;
  e.set_incident_id(incident);
  e.set_at_ms(at_ms);
  e.mutable_note()->set_operator_id("op-1");
  e.mutable_note()->set_text(text);
  return e;
}

struct append_result {
  std::error_code ec;
  std::vector<std::uint64_t> seqs;
};

// Appends and waits for durability: the tests are the only callers allowed to block.
inline append_result append_wait(storage::journal& j, std::vector<rescue::v1::Event> events) {
  // Shared, so the promise outlives set_value even when the waiter wakes and returns first.
  auto done = std::make_shared<std::promise<append_result>>();
  auto f = done->get_future();
  j.append(std::move(events), [done](std::error_code ec, std::vector<std::uint64_t> seqs) {
    done->set_value({ec, std::move(seqs)});
  });
  return f.get();
}

}  // namespace rescue::test

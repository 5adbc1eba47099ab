// Crash safety: SIGKILL a writer process at random moments; nothing it reported durable is lost.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <sstream>

#include "journal_test_util.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/sqlite_journal.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::scratch_dir;

namespace {

// Runs the writer for `run_for`, SIGKILLs it, and returns everything it printed.
std::string run_and_kill(const std::filesystem::path& db, const std::filesystem::path& key,
                         const std::string& tag, std::chrono::milliseconds run_for) {
  const std::string helper = std::string(RESCUE_BIN_DIR) + "/journal_crash_writer";
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(helper.c_str(), helper.c_str(), db.c_str(), key.c_str(), tag.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);

  // Keep reading while it runs so a full pipe never slows the writer down.
  std::string out;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  CHECK(WIFSIGNALED(status));
  return out;
}

}  // namespace

TEST_CASE("every append reported durable survives SIGKILL at random moments", "[sqlite][crash]") {
  scratch_dir dir;
  const auto db = dir / "journal.db";
  const auto key = dir / "journal.key";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(30, 400);
  std::map<std::uint64_t, std::string> durable;  // seq -> note text, across all rounds

  constexpr int rounds = 24;
  for (int round = 0; round < rounds; ++round) {
    const std::string printed =
        run_and_kill(db, key, "r" + std::to_string(round), std::chrono::milliseconds(run_ms(rng)));
    std::istringstream lines(printed);
    std::string line;
    std::size_t reported = 0;
    while (std::getline(lines, line)) {
      // A line cut by the kill has no newline; getline still returns it at EOF, so skip it.
      if (lines.eof() && printed.back() != '\n') break;
      const auto space = line.find(' ');
      REQUIRE(space != std::string::npos);
      const auto seq = std::stoull(line.substr(0, space));
      const auto [it, inserted] = durable.emplace(seq, line.substr(space + 1));
      INFO("seq " << seq << " reported twice");
      CHECK(inserted);
      ++reported;
    }

    sqlite_journal_config config;
    config.path = db;
    config.read_only = true;
    std::error_code ec;
    auto j = sqlite_journal::open(config, ec);
    INFO("round " << round << ": " << ec.message());
    REQUIRE(j);
    std::size_t found = 0;
    for (const auto& [seq, text] : durable) {
      bool present = false;
      REQUIRE_FALSE(j->scan(seq, seq, [&](const journal_record& r) {
        v1::Event e;
        present = r.parse(e) && e.note().text() == text;
        return true;
      }));
      INFO("round " << round << ": seq " << seq << " (" << text << ") lost or altered");
      CHECK(present);
      found += present;
    }
    CHECK(found == durable.size());
    auto result = verify_journal(*j);
    INFO("round " << round << ": " << result.reason);
    CHECK(result.ok());
    UNSCOPED_INFO("round " << round << ": " << reported << " reported durable, " << j->last_seq()
                           << " records");
  }
  // The rounds together must have written something, or the test proved nothing.
  CHECK(durable.size() > 100);
}

// Crash safety, for every backend: SIGKILL a writer process at random moments; nothing it reported
// durable is lost, and every batch is there whole with its outbox call, or not at all.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <sstream>
#include <string_view>

#include "backends.hpp"
#include "rescue/storage/journal_verify.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::open_journal;
using rescue::test::open_outbox;
using rescue::test::store_options;

namespace {

constexpr std::string_view opened_line = "open\n";

// Runs the writer until it has opened the journal, then for `run_for` more, SIGKILLs it, and
// returns everything it printed after the "open" line.
std::string run_and_kill(const std::vector<std::string>& store, const std::filesystem::path& key,
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
    std::vector<std::string> args{helper, key.string(), tag};
    args.insert(args.end(), store.begin(), store.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(helper.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);

  // Keep reading while it runs so a full pipe never slows the writer down. The random delay
  // starts once the journal is open; the open itself is bounded generously.
  std::string out;
  char buf[65536];
  bool opened = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (!opened && out.size() >= opened_line.size()) {
      REQUIRE(out.compare(0, opened_line.size(), opened_line) == 0);
      opened = true;
      deadline = std::chrono::steady_clock::now() + run_for;
    }
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
  INFO("the writer did not open the journal within 30 s");
  REQUIRE(opened);
  return out.substr(opened_line.size());
}

}  // namespace

TEMPLATE_TEST_CASE(
    "every append reported durable survives SIGKILL at random moments, each batch "
    "whole with its outbox call",
    "[conformance][crash]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(30, 400);
  std::map<std::uint64_t, std::string> durable;  // seq -> note text, across all rounds

  constexpr int rounds = 24;
  for (int round = 0; round < rounds; ++round) {
    const std::string printed =
        run_and_kill(backend.crash_writer_args("main"), backend.key_path(),
                     "r" + std::to_string(round), std::chrono::milliseconds(run_ms(rng)));
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

    store_options read_only;
    read_only.read_only = true;
    auto j = open_journal(backend, read_only);
    std::size_t found = 0;
    for (const auto& [seq, written] : durable) {
      // clang 14 cannot capture a structured binding in a lambda.
      const std::string& text = written;
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

    // Batches "TAG/P/N" of N % 3 + 1 events, "TAG/P/N/K": all of them or none, and with exactly
    // one outbox call naming the batch when they are there.
    std::map<std::string, std::uint64_t> events_of;
    REQUIRE_FALSE(j->scan(1, j->last_seq(), [&](const journal_record& r) {
      v1::Event e;
      if (r.parse(e)) ++events_of[e.note().text().substr(0, e.note().text().rfind('/'))];
      return true;
    }));
    auto outbox = open_outbox(backend);
    std::vector<outbox_row> calls;
    REQUIRE_FALSE(outbox->rows(calls));
    std::map<std::string, int> calls_of;
    for (const auto& c : calls)
      ++calls_of[c.body];
    for (const auto& [batch, count] : events_of) {
      const auto n = std::stoull(batch.substr(batch.rfind('/') + 1));
      INFO("round " << round << ": batch " << batch);
      CHECK(count == n % 3 + 1);
      CHECK(calls_of[batch] == 1);
    }
    for (const auto& [batch, count] : calls_of) {
      INFO("round " << round << ": call " << batch << " without its batch");
      CHECK(events_of.count(batch) == 1);
    }
    UNSCOPED_INFO("round " << round << ": " << reported << " reported durable, " << j->last_seq()
                           << " records, " << calls.size() << " calls");
  }
  // The rounds together must have written something, or the test proved nothing.
  CHECK(durable.size() > 100);
}

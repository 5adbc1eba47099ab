// The durable outbox of outgoing webhook calls (fire centre, SMS gateway) that every backend
// keeps beside its journal. Calls are stored through the journal (journal::append with outbox
// messages), in the transaction of the events that cause them; this is the delivery side: the
// rows a delivery loop retries until the receiver takes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace rescue::storage {

// A call to be made, as handed to journal::append.
struct outbox_message {
  std::string kind;               // "fire_escalation", "crew_sms"
  std::uint64_t incident_id = 0;  // the incident the call is about; 0: none
  std::string url;                // empty: no webhook configured; kept, never sent
  std::string body;               // sent as is (JSON)
};

// A stored call and how its delivery stands.
struct outbox_row {
  std::int64_t id = 0;  // assigned by the backend, increasing in commit order
  std::string kind;
  std::uint64_t incident_id = 0;
  std::string url;
  std::string body;
  std::int64_t created_ms = 0;  // when it was committed
  std::int64_t attempts = 0;
  std::int64_t next_attempt_ms = 0;
  std::optional<std::int64_t> delivered_ms;
  std::string last_error;
};

// last_error of a call that has no URL to go to.
inline constexpr std::string_view outbox_no_url_error = "no webhook URL configured";

// The row a message becomes when it is committed at `now_ms`: due at once, or, without a URL,
// kept undelivered with outbox_no_url_error.
outbox_row make_outbox_row(const outbox_message& message, std::int64_t now_ms);

// The outcome of one delivery attempt.
struct outbox_attempt {
  std::int64_t id = 0;
  std::int64_t attempts = 0;                 // attempts made so far, this one included
  std::optional<std::int64_t> delivered_ms;  // set: the receiver took it; no more attempts
  std::int64_t next_attempt_ms = 0;          // when not delivered
  std::string last_error;                    // when not delivered
};

// All methods are thread-safe; they see every call whose journal append has completed.
class outbox_store {
 public:
  virtual ~outbox_store() = default;

  // Up to `max` undelivered rows that have a URL, earliest next_attempt_ms first (then by id).
  virtual std::error_code due(std::size_t max, std::vector<outbox_row>& out) = 0;

  // Records an attempt on row `a.id`, durably.
  virtual std::error_code record_attempt(const outbox_attempt& a) = 0;

  // Every row about one incident, by id: how a start-up finds what is already stored.
  virtual std::error_code by_incident(std::uint64_t incident_id, std::vector<outbox_row>& out) = 0;

  // Every row by id (operations and tests).
  virtual std::error_code rows(std::vector<outbox_row>& out) = 0;

  // Undelivered rows, with or without a URL.
  virtual std::error_code pending(std::size_t& count) = 0;
};

}  // namespace rescue::storage

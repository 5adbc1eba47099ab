#include "rescue/storage/outbox_store.hpp"

namespace rescue::storage {

outbox_row make_outbox_row(const outbox_message& message, std::int64_t now_ms) {
  outbox_row r;
  r.kind = message.kind;
  r.incident_id = message.incident_id;
  r.url = message.url;
  r.body = message.body;
  r.created_ms = now_ms;
  r.next_attempt_ms = now_ms;
  if (message.url.empty()) r.last_error = outbox_no_url_error;
  return r;
}

}  // namespace rescue::storage

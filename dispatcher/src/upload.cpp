#include "rescue/dispatcher/upload.hpp"

#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

std::string upload_json(rescue::v1::PlatformRecord record, const std::string& platform) {
  record.set_platform(platform);
  return protocol::to_json(record, protocol::json_fields::all);
}

storage::outbox_message upload_message(const server_config& config,
                                       const core::fx::upload_record& u) {
  return {std::string(upload_kind), u.incident, config.upload_url,
          upload_json(u.record, config.upload_platform)};
}

std::string idempotency_key(std::string_view kind, const std::string& body) {
  if (kind != upload_kind) return {};
  rescue::v1::PlatformRecord record;
  if (!protocol::from_json(body, record).empty()) return {};
  return record.platform() + ":" + record.record_id();
}

}  // namespace rescue::dispatcher

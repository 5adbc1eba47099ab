// Upload records for the provincial and national platforms (upload.proto, docs/upload.md): the
// one rendering the server pushes through the outbox and `rescuectl upload-export` writes.
#pragma once

#include <string>
#include <string_view>

#include "rescue/core/incident_core.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/storage/outbox_store.hpp"
#include "rescue/upload.pb.h"

namespace rescue::dispatcher {

inline constexpr std::string_view upload_kind = "platform_upload";

// The record as JSON (every field printed), with this platform's name in it.
std::string upload_json(rescue::v1::PlatformRecord record, const std::string& platform);

// The outbox message of an upload record: kind platform_upload, to [upload] url.
storage::outbox_message upload_message(const server_config& config,
                                       const core::fx::upload_record& u);

// The Idempotency-Key an outbox row is sent with: "<platform>:<record_id>" for an upload
// (the same on every retry, after every restart, and in the exported files); empty otherwise.
std::string idempotency_key(std::string_view kind, const std::string& body);

}  // namespace rescue::dispatcher

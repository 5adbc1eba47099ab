#include "upload_export.hpp"

#include <fstream>
#include <iostream>

#include "rescue/core/platform_record.hpp"
#include "rescue/dispatcher/upload.hpp"
#include "rescue/report/period.hpp"
#include "rescue/storage/open_storage.hpp"

namespace rescue::tools {

int run_upload_export(const upload_export_request& request) {
  std::string error;
  const auto period = report::period_of(request.period, request.from, request.to, error);
  if (!period) {
    std::cerr << "rescuectl: " << error << "\n";
    return 2;
  }
  if (request.platform.empty()) {
    std::cerr << "rescuectl: --platform (or --config with [upload] platform) is required\n";
    return 2;
  }
  std::error_code ec;
  auto j = storage::open_journal_for_audit(request.journal, ec);
  if (!j) {
    std::cerr << "rescuectl: cannot open journal " << request.journal << ": " << ec.message()
              << "\n";
    return 2;
  }
  std::ofstream file;
  if (!request.out.empty()) {
    file.open(request.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "rescuectl: cannot write " << request.out << "\n";
      return 2;
    }
  }
  std::ostream& out = request.out.empty() ? std::cout : file;
  // The journal folded as the server folds it: an incident's record is the incident just before
  // its closing or cancelling event, a fault's the event itself.
  core::core_state state;
  std::uint64_t bad_seq = 0, written = 0;
  const auto in_period = [&](std::int64_t at) {
    return at >= period->from_ms && at < period->to_ms;
  };
  ec = j->scan(1, UINT64_MAX, [&](const storage::journal_record& r) {
    rescue::v1::Event e;
    if (!r.parse(e)) {
      bad_seq = r.seq;
      return false;
    }
    if ((e.has_closed() || e.has_cancelled()) && in_period(e.at_ms())) {
      if (const core::incident* inc = state.find(e.incident_id())) {
        out << dispatcher::upload_json(core::incident_record(*inc, e), request.platform) << "\n";
        ++written;
      }
    } else if (e.has_fault_recorded() && in_period(e.at_ms())) {
      out << dispatcher::upload_json(core::fault_record(e), request.platform) << "\n";
      ++written;
    }
    core::apply(state, e);
    return true;
  });
  out.flush();
  if (ec) {
    std::cerr << "rescuectl: cannot read journal " << request.journal << ": " << ec.message()
              << "\n";
    return 2;
  }
  if (bad_seq) {
    std::cerr << "rescuectl: seq " << bad_seq << ": payload is not a valid Event\n";
    return 2;
  }
  if (!out) {
    std::cerr << "rescuectl: cannot write the records\n";
    return 2;
  }
  std::cerr << "rescuectl: " << written << " records\n";
  return 0;
}

}  // namespace rescue::tools
